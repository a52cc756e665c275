"""The expert plugin interface: a clip classifier whose pooled features feed the spotter.

An expert is a small, cheap object (no torch at import time) that knows its name, the modality it reads by
default, its feature size and its default training settings, and that builds a ``torch.nn.Module`` whose
``forward(x)`` returns ``(features [B, D], logits [B, num_outputs])``; the feature is the global average
pool before the classifier.  Every built model names its final layer ``classifier`` (a ``Linear``), so the
number of outputs of a saved state can be read from ``classifier.weight``.

A third-party expert::

    class MyExpert(Expert):
        name, modality = "my-net", "rgb-crop"
        def feature_dim(self, settings): return 512
        def build(self, num_outputs, settings, **kw):
            from my_pkg.net import MyNet          # torch imported here, lazily
            return MyNet(num_outputs)

    @hookimpl
    def register_experts(registry):
        registry.add("my-net", MyExpert())
"""
from __future__ import annotations

import abc
import logging
from typing import Any, Mapping

log = logging.getLogger(__name__)

# Input channels of each modality as a model sees it (flow: u, v; skeleton: x, y, z per joint).
MODALITY_CHANNELS = {"rgb-crop": 3, "rgb-hands": 3, "rgb": 3, "flow-tvl1": 2, "flow": 2, "skeleton": 3}


def modality_channels(modality: str | None, settings: Mapping[str, Any] | None = None) -> int:
    """Input channels for ``modality``; an ``in_chans`` setting wins; unknown ``flow*`` -> 2, else 3."""
    settings = settings or {}
    if settings.get("in_chans"):
        return int(settings["in_chans"])
    if modality in MODALITY_CHANNELS:
        return MODALITY_CHANNELS[modality]
    return 2 if modality and modality.startswith("flow") else 3


class Expert(abc.ABC):
    """Base class of every expert (built-in or third-party)."""

    name: str = ""
    modality: str = "rgb-crop"  # rgb-crop | rgb-hands | flow-tvl1 | skeleton | ...
    description: str = ""
    default_training: dict = {}  # overrides of the entry's expert_training (e.g. ST-GCN: adam, lr 5e-4)
    default_settings: dict = {}  # documented model settings and their defaults
    input_kind: str = "video"  # video: [B, C, L, H, W] from uint8 [B, L, S, S, C]; skeleton: [B, 3, L, V]

    # -- description ---------------------------------------------------------------------------------------
    def settings_with_defaults(self, settings: Mapping[str, Any] | None) -> dict:
        merged = dict(self.default_settings)
        merged.update({k: v for k, v in dict(settings or {}).items()})
        return merged

    def resolve_modality(self, settings: Mapping[str, Any] | None = None, modality: str | None = None) -> str:
        return modality or (settings or {}).get("modality") or self.modality

    @abc.abstractmethod
    def feature_dim(self, settings: Mapping[str, Any]) -> int:
        """Size of the pooled feature for these settings (must match what ``build`` returns)."""

    # -- model -----------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def build(self, num_outputs: int, settings: Mapping[str, Any], *, modality: str | None = None,
              pretrained: bool = True):
        """A module with ``forward(x) -> (features [B, D], logits [B, num_outputs])`` and a ``classifier``.

        ``pretrained=False`` skips loading the ``pretrained`` setting (used when a trained state follows).
        """

    def clip_input(self, windows, train: bool, training: Mapping[str, Any], rng):
        """Batch of modality windows -> model input tensor (augmented when ``train``)."""
        from experts import transforms

        return transforms.clip_input(windows, train, training, rng)

    # -- weights ---------------------------------------------------------------------------------------------
    def convert_checkpoint(self, state: dict, model) -> dict:
        """Map a public checkpoint's tensors onto this expert's layer names (drop its classifier...)."""
        return state

    def load_pretrained(self, model, path, strict: bool = True) -> dict:
        """Load a (public or own) checkpoint file into ``model``; the classifier may be absent or replaced."""
        from experts import checkpoints

        state = checkpoints.unwrap(checkpoints.load_state(path), path)
        state = self.convert_checkpoint(state, model)
        own = model.state_dict()
        # a different class count is a replaced head, not an error
        for key in [k for k in state if k.startswith("classifier.")]:
            if key in own and tuple(own[key].shape) != tuple(state[key].shape):
                del state[key]
        report = checkpoints.load_into(model, state, strict, source=f"checkpoint {path}",
                                       ignore_missing=("classifier.",))
        log.info("%s: loaded %d tensors from %s", self.name, report["loaded"], path)
        return report

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} modality={self.modality!r}>"
