"""Stage 0: open the dataset and choose the splits a run trains, selects and is scored on.

Evaluation split: ``test`` when it carries ground truth, else ``validation``.  The spotter's checkpoint is
chosen on ``validation`` only when it exists, is labelled and is not the evaluation split; otherwise the last
epoch is kept (no selection on the data it is scored on).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError
from benchmark.interfaces import Dataset
from benchmark.stages.handoffs import RunData


def open_dataset(config: dict, components: Callable[[str], Any], cache_dir: Path, *, progress: bool = True) -> Dataset:
    section = config["dataset"]
    cls = components("dataset").get(section["name"])
    root = section.get("path")
    return cls.open(
        Path(root).expanduser() if root else None, section.get("settings") or {}, Path(cache_dir), progress=progress
    )


def run_data(dataset: Dataset, echo: Callable[[str], None] | None = None) -> RunData:
    """The splits a run uses; the dataset's warnings (e.g. a video without ground truth) are printed."""
    warnings = list(getattr(dataset, "warnings", []) or [])
    if warnings and echo is not None:
        for warning in warnings[:5]:
            echo(f"warning: {warning}")
        if len(warnings) > 5:
            echo(f"warning: ... and {len(warnings) - 5} more (`bench data check` lists them all)")
    splits = dataset.splits()
    eval_split = "test" if "test" in splits and dataset.labelled("test") else "validation"
    if eval_split not in splits or not dataset.labelled(eval_split):
        raise BenchError(f"dataset {dataset.root} has no labelled test or validation split to score on")
    select = (
        "validation"
        if ("validation" in splits and eval_split != "validation" and dataset.labelled("validation"))
        else None
    )
    used = ["train"] + ([select] if select else []) + [eval_split]
    videos = {s: tuple(dataset.videos(s)) for s in used}
    if not videos["train"]:
        raise BenchError(f"dataset {dataset.root} has no training videos")
    return RunData(
        dataset.name,
        getattr(dataset, "root", None),
        dataset.fingerprint(),
        tuple(dataset.class_names),
        videos,
        eval_split,
        select,
    )
