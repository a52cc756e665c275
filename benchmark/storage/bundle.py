"""A run's trained pipeline as one folder, so it can be applied to new videos (``bench spot``).

Every run writes ``<output_dir>/pipeline/``::

    config.yaml               the resolved configuration (preprocessing, clips, experts, spotter, decoder)
    classes.json              the class names, class i at index i
    experts/<id>/model.json   what rebuilds the expert: name, modality, settings, num_outputs, feature_dim
    experts/<id>/state_dict.pt
    spotter/model.json        name, settings, feature_dim, num_outputs
    spotter/state_dict.pt

Weights are state dicts (tensors only), read with ``torch.load(weights_only=True)``: a bundle from someone
else's tracking server cannot run code here.  The weight files are hard links to the stage cache's where the
file system allows it (no copy of a 100 MB expert per run).  Trackers log the folder (the MLflow tracker also
logs each model with ``mlflow.pytorch``) and give it back through the ``fetch_pipeline`` hook.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import BenchError
from benchmark.storage.files import write_json, write_text

FORMAT = 1  # bump when the layout changes; readers refuse a newer one


@dataclass(frozen=True)
class Bundle:
    """A pipeline folder as above."""

    folder: Path

    def check(self) -> Bundle:
        """Self, or a BenchError naming what the folder lacks."""
        missing = [p for p in ("config.yaml", "classes.json", "spotter/model.json") if not (self.folder / p).is_file()]
        if missing:
            raise BenchError(
                f"{self.folder} is not a trained pipeline (no {', '.join(missing)}): was the run tracked by a "
                "version of signspot-bench that logs pipelines? Re-run the benchmark to log it"
            )
        version = json.loads((self.folder / "spotter/model.json").read_text()).get("format", FORMAT)
        if version > FORMAT:
            raise BenchError(f"{self.folder}: pipeline format {version} is newer than this signspot-bench's {FORMAT}")
        return self

    @property
    def config(self) -> dict:
        import yaml

        return yaml.safe_load((self.folder / "config.yaml").read_text())

    @property
    def class_names(self) -> list[str]:
        return json.loads((self.folder / "classes.json").read_text())

    @property
    def expert_ids(self) -> list[str]:
        return list(self.config["experts"])

    def meta(self, part: str) -> dict:
        return json.loads((self.folder / part / "model.json").read_text())

    def model(self, part: str) -> tuple[dict, dict]:
        """``(meta, state_dict)`` of ``experts/<id>`` or ``spotter``: plain weights, never pickled code."""
        from benchmark.engine.checkpoints import load_state

        folder = self.folder / part
        if not (folder / "model.json").is_file() or not (folder / "state_dict.pt").is_file():
            raise BenchError(f"the pipeline {self.folder} has no {part} model ({folder}/model.json, state_dict.pt)")
        return self.meta(part), load_state(folder / "state_dict.pt")

    def build(self, part: str, components, device: str = "cpu"):
        """The trained ``torch.nn.Module`` of ``part``, in eval mode (what ``mlflow.pytorch`` logs)."""
        meta, state = self.model(part)
        if part == "spotter":
            from benchmark.engine.inference import load_model

            spotter = components("spotter").get(meta["name"])
            return load_model(spotter, meta["settings"], state, meta["feature_dim"], meta["num_outputs"], device)
        from benchmark.engine.checkpoints import load_into

        expert = components("expert").get(meta["name"])
        modality = components("modality").get(meta["modality"])
        model = expert.build(int(meta["num_outputs"]), meta["settings"], modality, pretrained=False)
        load_into(model, state, strict=True, source=f"{self.folder / part}")
        return model.to(device).eval()


def write_bundle(folder: Path, config: dict, class_names, experts: list[dict], spotter: dict) -> Bundle:
    """Write the pipeline folder.  ``experts`` and ``spotter``: model.json fields plus ``state`` (the weight
    file in the cache) and, for experts, ``id``."""
    from benchmark.config.entries import dump_yaml

    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    write_text(folder / "config.yaml", dump_yaml(config))
    write_json(folder / "classes.json", list(class_names))
    for part, model in [(f"experts/{e['id']}", e) for e in experts] + [("spotter", spotter)]:
        meta = {k: v for k, v in model.items() if k not in ("state", "id")}
        write_json(folder / part / "model.json", {"format": FORMAT, **meta})
        _link(Path(model["state"]), folder / part / "state_dict.pt")
    return Bundle(folder)


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copyfile(source, target)
