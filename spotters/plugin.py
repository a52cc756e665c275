"""Registers the built-in spotters.  Cheap to import: a spotter imports torch and its network when it builds one."""

from benchmark import hookimpl
from spotters.conv_bilstm import ConvBiLSTMSpotter
from spotters.tcn import TCNSpotter
from spotters.transformer import TransformerSpotter

SPOTTER_CLASSES = (ConvBiLSTMSpotter, TCNSpotter, TransformerSpotter)


@hookimpl
def register_spotters(registry):
    for cls in SPOTTER_CLASSES:
        registry.add(cls.name, cls())
