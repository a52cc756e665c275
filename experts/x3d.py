"""X3D (pytorchvideo's ``create_x3d``): an efficient alternative RGB expert.

``width_factor`` / ``depth_factor`` are X3D's expansion factors (2.0 / 2.2 = X3D-S/M); ``width: small`` means
factors 1.0 / 1.0 and a 512-d feature unless ``head_dim_out`` says otherwise (2048 at full width).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.interfaces import optional
from experts.pytorchvideo_expert import DROPOUT, PYTORCHVIDEO_ZOO, WIDTH, PyTorchVideoExpert


class X3DExpert(PyTorchVideoExpert):
    name = "x3d"
    modality = "rgb-crop"
    description = "X3D (pytorchvideo create_x3d, X3D-S/M factors), adaptive pooling; 2048-d (width small: 512)"
    defaults = {"width": "full", "width_factor": 2.0, "depth_factor": 2.2, "head_dim_out": None, "dropout": 0.5}
    rules = {
        "width": WIDTH,
        "width_factor": ">0",
        "depth_factor": ">0",
        "head_dim_out": optional("int>=1"),
        "dropout": DROPOUT,
    }
    pretrained_filename = "X3D_S.pyth"
    pretrained_url = f"{PYTORCHVIDEO_ZOO}/X3D_S.pyth"

    def _factors(self, settings: Mapping[str, Any]) -> tuple[float, float, int]:
        """``(width_factor, depth_factor, feature dim)`` of these settings."""
        s = self.with_defaults(settings)
        if s["width"] == "small":
            return 1.0, 1.0, int(s["head_dim_out"] or 512)
        return float(s["width_factor"]), float(s["depth_factor"]), int(s["head_dim_out"] or 2048)

    def feature_dim(self, settings):
        return self._factors(settings)[2]

    def create_model(self, in_channels, num_outputs, settings, *, pretrained=False):
        from experts.models.pytorchvideo import x3d

        width_factor, depth_factor, dim = self._factors(settings)
        return x3d(
            in_channels,
            num_outputs,
            width_factor=width_factor,
            depth_factor=depth_factor,
            dim=dim,
            dropout=float(settings["dropout"] or 0.0),
        )
