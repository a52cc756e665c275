"""Registers the built-in spotters.  Cheap to import: models are built (and torch imported) on use."""
from benchmark import hookimpl
from spotters.base import LazySpotter

SPOTTERS = (
    LazySpotter("conv-bilstm", "spotters.conv_bilstm",
                "Reference: reduce MLP, parallel conv + BiLSTM, fusion, cls and DIoU-regression heads"),
    LazySpotter("tcn", "spotters.tcn", "MS-TCN style dilated residual temporal convolutions (optional stages)"),
    LazySpotter("transformer", "spotters.transformer",
                "ActionFormer style transformer encoder with local windowed self-attention"),
)


@hookimpl
def register_spotters(registry):
    for spotter in SPOTTERS:
        registry.add(spotter.name, spotter)
