"""Registers the built-in decoders (numpy only)."""
from benchmark import hookimpl
from spotters.decoders.argmax import ArgmaxDecoder
from spotters.decoders.segments import SegmentsNMSDecoder
from spotters.decoders.vote import VoteDecoder


@hookimpl
def register_decoders(registry):
    for decoder in (VoteDecoder(), ArgmaxDecoder(), SegmentsNMSDecoder()):
        registry.add(decoder.name, decoder)
