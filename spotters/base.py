"""The spotter plugin contract.  Cheap to import: torch is imported only when a model is built.

A spotter turns a padded batch of clip-feature sequences into per-clip class logits and non-negative
offsets (in clips) to the start and the end of the sign each clip belongs to::

    model = spotter.build(feature_dim, num_outputs, settings)     # a torch.nn.Module
    logits, offsets = model(x, lengths)   # x [B, T, D] float, lengths [B] long
    # logits [B, T, num_outputs] (column 0 = background), offsets [B, T, 2] >= 0

Positions ``t >= lengths[b]`` are padding: they never change the outputs at valid positions, and
their own outputs are zero.
"""
from __future__ import annotations

import abc
import importlib
from typing import Any, Mapping


class Spotter(abc.ABC):
    """A temporal model over clip features (see the module docstring for the forward contract)."""

    name: str = ""
    description: str = ""

    @abc.abstractmethod
    def build(self, feature_dim: int, num_outputs: int, settings: Mapping[str, Any]):
        """Return a ``torch.nn.Module`` with ``forward(x, lengths) -> (logits, offsets)``."""


class LazySpotter(Spotter):
    """A spotter whose model code lives in ``module`` (imported, with torch, only by :meth:`build`).

    ``module`` must define ``DEFAULTS`` (the settings it reads, with defaults) and
    ``build_model(feature_dim, num_outputs, settings)``.  Settings keys the module does not read are
    ignored, so one benchmark entry's settings can be reused when switching spotters by name.
    """

    def __init__(self, name: str, module: str, description: str = ""):
        self.name, self.module, self.description = name, module, description

    def defaults(self) -> dict:
        return dict(importlib.import_module(self.module).DEFAULTS)

    def resolve(self, settings: Mapping[str, Any] | None) -> dict:
        """Defaults overlaid with the given settings (``None`` values keep the default)."""
        out = self.defaults()
        for key, value in dict(settings or {}).items():
            if key in out and value is not None:
                out[key] = value
        return out

    def build(self, feature_dim: int, num_outputs: int, settings: Mapping[str, Any] | None = None):
        if int(feature_dim) < 1 or int(num_outputs) < 2:
            raise ValueError(f"spotter {self.name!r}: feature_dim must be >= 1 and num_outputs >= 2, "
                             f"got {feature_dim}, {num_outputs}")
        mod = importlib.import_module(self.module)
        return mod.build_model(int(feature_dim), int(num_outputs), self.resolve(settings))

    def __repr__(self) -> str:
        return f"LazySpotter({self.name!r}, {self.module!r})"
