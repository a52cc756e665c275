"""Shims for library version drift, in one place.

pytorchvideo 0.1.5 imports ``torchvision.transforms.functional_tensor``, which torchvision >= 0.17 removed;
``functional`` has the same functions, so we alias it before anything from pytorchvideo is imported.
"""
from __future__ import annotations

import sys


def pytorchvideo_ready() -> None:
    """Make ``import pytorchvideo...`` work with current torchvision (idempotent)."""
    name = "torchvision.transforms.functional_tensor"
    if name not in sys.modules:
        try:
            import torchvision.transforms.functional as functional
        except ImportError:  # pragma: no cover - torchvision is a pytorchvideo dependency
            return
        sys.modules[name] = functional
