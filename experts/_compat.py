"""Shims for library version drift, in one place.

pytorchvideo 0.1.5 imports ``torchvision.transforms.functional_tensor``, which torchvision >= 0.17 removed;
``functional`` has the same functions, so we alias it before anything from pytorchvideo is imported.
Its dependency fvcore calls ``torch.jit.script`` at import, which torch now flags with a FutureWarning on
every run; that import is done here with that one warning silenced (it says nothing about our code).
"""

from __future__ import annotations

import contextlib
import sys
import warnings


def pytorchvideo_ready() -> None:
    """Make ``import pytorchvideo...`` work with current torchvision (idempotent)."""
    name = "torchvision.transforms.functional_tensor"
    if name not in sys.modules:
        try:
            import torchvision.transforms.functional as functional
        except ImportError:  # pragma: no cover - torchvision is a pytorchvideo dependency
            return
        sys.modules[name] = functional
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        with contextlib.suppress(ImportError):  # older pytorchvideo without fvcore
            import fvcore.nn  # noqa: F401
