"""Registers the built-in decoders (numpy only)."""

from benchmark import hookimpl
from spotters.decoders.argmax import ArgmaxDecoder
from spotters.decoders.segments import SegmentsNMSDecoder
from spotters.decoders.soft_nms import SoftNMSDecoder
from spotters.decoders.vote import VoteDecoder

DECODER_CLASSES = (VoteDecoder, ArgmaxDecoder, SegmentsNMSDecoder, SoftNMSDecoder)


@hookimpl
def register_decoders(registry):
    for cls in DECODER_CLASSES:
        registry.add(cls.name, cls())
