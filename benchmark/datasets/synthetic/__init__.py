"""The ``synthetic`` dataset: the embedded default, a small but fair stand-in for ChaLearn MSSL.

It writes the same folder layout as ``chalearn-mssl`` (mp4 videos, ground-truth pickles, train text files,
MSSL_SET_LABELS.txt, and ``<video>.pose`` files with the exact joints in the MediaPipe Holistic layout), plus
``SYNTHETIC.json`` describing how it was made; the ``chalearn-mssl`` loader reads it.

Decisions:

* **Defaults** (``videos=24, classes=8, signers=4, seconds=30, size=360, seed=0``): 18,000 frames at 640x360,
  about 260 query-sign instances, 8 imbalanced classes with unseen-signer validation.  The ``cpu`` profile
  of ``reference-mssl`` keeps 12 such training videos and adds many short test videos (``test_videos``,
  ``eval_seconds`` in registry.yaml), so its F1 interval is narrow; its CPU run reads the ``.pose`` files
  and skips MediaPipe.
  Height 360 (width 640): MediaPipe Holistic (0.10.14, model_complexity 1) finds the body on about 97 % of
  sampled frames at this size; the pose detector works on a 224x224 resize anyway.
* **Splits**: ``videos // 4`` validation and ``videos // 4`` test videos (at least one each), the rest train;
  ``val_videos`` / ``test_videos`` set those counts instead (``videos`` still counts all splits) and
  ``eval_seconds`` the length of validation and test videos.  A score's interval narrows with the number of
  test videos, while preprocessing costs per second of video: many short test videos decide more per second.
  With ``signers > 1`` the last ``max(1, signers // 4)`` signers are held out: train uses only the others,
  validation only the held-out ones (unseen, as the real validation set's new signers), test all signers in
  turn.  The test split carries ground truth (``MSSL_TEST_SET_GT.pkl`` at the root) so runs can be scored.
* **Signs** (vocabulary.py), **signers** (signers.py), **timing** (timeline.py), **kinematics** (motion.py)
  and **drawing** (render.py) are documented in their modules.  Each class occurs at least twice per split;
  class frequencies follow ``1 / rank^0.9``.
* Deterministic: the same settings give the same ground truth and the same pose arrays (the plan uses its
  own seeded streams and each video its own, so the number of workers does not matter).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.datasets.chalearn import ChalearnMSSL
from benchmark.errors import DataError
from benchmark.interfaces import optional

DEFAULTS = {
    "videos": 24,
    "classes": 8,
    "signers": 4,
    "seconds": 30.0,
    "size": 360,
    "seed": 0,
    "fps": 25.0,
    "val_videos": None,  # None: videos // 4
    "test_videos": None,  # None: videos // 4
    "eval_seconds": None,  # None: seconds
}


def settings_hash(params: Mapping[str, Any]) -> str:
    from benchmark.datasets.synthetic.writer import GENERATOR_VERSION

    key = {k: params[k] for k in DEFAULTS if params.get(k) is not None}  # an unset size keeps old folders
    key["seconds"] = float(key["seconds"])
    if "eval_seconds" in key:
        key["eval_seconds"] = float(key["eval_seconds"])
    if float(key["fps"]) == 25.0:  # the rate datasets had before it was a setting: they keep their folder
        del key["fps"]
    return hashlib.sha256(json.dumps([GENERATOR_VERSION, key], sort_keys=True).encode()).hexdigest()[:12]


def generate(out_dir, **kwargs) -> Path:
    """``generate(out_dir, videos=24, classes=8, signers=4, seed=0, seconds=30.0, size=360, workers=1,
    progress=True, fps=25.0)``: write a synthetic dataset (see :func:`benchmark.datasets.synthetic.writer.generate`)."""
    from benchmark.datasets.synthetic.writer import generate as _generate

    return _generate(out_dir, **kwargs)


class SyntheticDataset(ChalearnMSSL):
    """The embedded synthetic signer in the MSSL layout, generated on first use."""

    name = "synthetic"
    description = (
        "embedded synthetic signer in the MSSL layout, generated on first use (settings: videos, "
        "classes, signers, seconds, size, seed, fps, val_videos, test_videos, eval_seconds)"
    )
    # workers (0 = all cores) changes how it is made, not what; labels (null: the query classes, sign: every
    # sign, queries and others, as one class SIGN) changes how it is read: neither names the folder
    defaults = {**DEFAULTS, "workers": 0, "labels": None}
    # the generator's own bounds (writer.py), checked when the entry is resolved instead of when it is generated
    rules = {
        "videos": "3..100000",
        "classes": "1..200",
        "signers": "1..1000",
        "seconds": "4..3600",
        "size": "64..2160",
        "seed": ">=0",
        "fps": "1..240",
        "val_videos": optional("int>=1"),
        "test_videos": optional("int>=1"),
        "eval_seconds": optional("4..3600"),
        "workers": ">=0",
        "labels": optional(("sign",)),
    }

    @classmethod
    def open(cls, root: Path | None, settings: Mapping[str, Any], cache_dir: Path, *, progress: bool = True):
        """Without a root, generate once into ``cache_dir/datasets/synthetic-<hash>`` and reuse it; with a
        root, load it (generating it first when the folder is missing or empty)."""
        params = cls.with_defaults(settings)
        unknown = sorted(set(params) - set(cls.defaults))
        if unknown:
            raise DataError(
                f"synthetic dataset: unknown setting(s) {', '.join(unknown)}; known: {', '.join(cls.defaults)}"
            )
        workers = int(params.pop("workers") or 0) or (os.cpu_count() or 1)
        labels = params.pop("labels")
        target = (
            Path(root).expanduser()
            if root is not None
            else Path(cache_dir) / "datasets" / f"synthetic-{settings_hash(params)}"
        )
        if not (target / "SYNTHETIC.json").is_file() and not (target.is_dir() and any(target.iterdir())):
            generate(target, workers=workers, progress=progress, **params)
        dataset = cls(target, cache_dir=cache_dir)
        if labels == "sign":
            dataset.label_every_sign()
        return dataset

    def label_every_sign(self) -> None:
        """``labels: sign``: every sign of every video (queries and non-query signs) as the one class SIGN, in
        every split (:mod:`benchmark.datasets.synthetic.signs`); the fingerprint follows the new labels."""
        from dataclasses import replace

        from benchmark.datasets.elan.glosses import SIGN
        from benchmark.datasets.synthetic.signs import every_sign

        signs = every_sign(self.root)
        records = self._scan.records
        for split, videos in records.items():
            records[split] = [replace(v, annotations=tuple(signs.get(v.video_id, ()))) for v in videos]
        self._scan.class_names = [SIGN]
        self.class_names = [SIGN]
        self._fingerprint = None
