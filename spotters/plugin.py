"""Registers the built-in spotters.  Cheap to import: a spotter imports torch and its network when it builds one."""

from benchmark import hookimpl
from spotters.actionformer import ActionFormerSpotter
from spotters.conv_bilstm import ConvBiLSTMSpotter
from spotters.queries import QUERY_SPOTTER_CLASSES
from spotters.tcn import TCNSpotter
from spotters.temporalmaxer import TemporalMaxerSpotter
from spotters.transformer import TransformerSpotter

SPOTTER_CLASSES = (
    ConvBiLSTMSpotter,
    TCNSpotter,
    TransformerSpotter,
    ActionFormerSpotter,
    TemporalMaxerSpotter,
    *QUERY_SPOTTER_CLASSES,
)


@hookimpl
def register_spotters(registry):
    for cls in SPOTTER_CLASSES:
        registry.add(cls.name, cls())
