"""What the experts built with pytorchvideo (I3D, X3D, R(2+1)D) share, and the ``width`` setting of the video
experts (P3D reads it too).

Their public Kinetics checkpoints keep pytorchvideo's ``blocks`` layout, so loading one only drops its
400-class ``proj`` and, for another channel count (flow), averages the RGB stem over colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.interfaces import Expert, either

PYTORCHVIDEO_ZOO = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics"
WIDTH = either(("full", "small"), "int>=1")  # the rule of the ``width`` setting: a name or a stem width
DROPOUT = "0..<1"


def stem_width(settings: Mapping[str, Any], full: int = 64, small: int = 16) -> int:
    """``width``: ``full``, ``small`` (the CPU profile's size) or an int stem width (:data:`WIDTH`)."""
    width = settings["width"]
    if width in (None, "full"):
        return full
    return small if width == "small" else int(width)


class PyTorchVideoExpert(Expert):
    """Base of the pytorchvideo-built experts; a subclass creates its model with
    :mod:`experts.models.pytorchvideo`."""

    input_kind = "video"

    def convert_checkpoint(self, state: dict, model) -> dict:
        from benchmark.engine.checkpoints import adapt_input_channels

        head = f"blocks.{len(model.blocks) - 1}.proj."
        state = {k: v for k, v in state.items() if not k.startswith(head)}
        return adapt_input_channels(state, model.state_dict())
