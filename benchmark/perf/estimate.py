"""How long a run takes on one device, from the clips/s ``bench perf`` measured there: the arithmetic only.

A run's GPU work is, per expert: ``epochs`` epochs of round 1 on the training clips labelled with a query sign
and ``epochs`` of round 2 on every training clip (each capped at ``max_clips_per_epoch``), then one forward pass
over the clips of every video (extraction); then the spotter: ``epochs`` epochs over the training clips'
features, each followed by a validation pass (a forward pass, taken as a third of a training step's cost, the
usual 1 forward : 2 backward) and a decode + score of the validation videos.  The experts train one after the
other on the one device, as ``bench run`` does.  Preprocessing (MediaPipe, TV-L1 on the CPU cores) is not in
the GPU figures and is reported apart when measured at the same settings.

The MSSL workload (the paper's full settings) is built from what is known of the data: 112 training and 80
validation videos, about 4 h of 25 fps video in all, windows every ``clips.stride`` frames; the share of
training clips whose majority label is a query sign is counted from ``MSSL_TRAIN_SET_GT.pkl``
(:func:`query_sign_fraction`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

MSSL_TRAIN_VIDEOS = 112
MSSL_VAL_VIDEOS = 80
MSSL_HOURS = 4.0  # of video, train + validation
FPS = 25
# query-sign clips / training clips, counted by query_sign_fraction() from MSSL_TRAIN_SET_GT.pkl (2,111 signs)
# with 8-frame windows every 4 frames, over training frames estimated as 4 h x 112 / 192 x 25 fps
MSSL_QUERY_FRACTION = 0.126
FORWARD_SHARE = 1 / 3  # a forward pass's share of a training step (forward + backward ~ 3 forwards)


@dataclass(frozen=True)
class Workload:
    """Clips each stage processes in one run."""

    train_clips: int  # clips of the training videos: round 2 and the spotter, per epoch
    query_clips: int  # of those, labelled with a query sign: round 1, per epoch
    all_clips: int  # clips of every video: extraction
    val_clips: int  # clips of the validation videos: the spotter's validation, per epoch
    experts: tuple[tuple[str, str], ...]  # (expert id, expert plugin name), in the entry's order
    epochs: int
    rounds: int
    max_clips_per_epoch: int | None
    spotter_epochs: int


def workload_from_config(
    config: Mapping[str, Any], train_frames: float, val_frames: float, all_frames: float, query_fraction: float
) -> Workload:
    """The workload of a resolved entry's ``config`` on data of that many frames (``all_frames`` >= train + val
    when there is a test split)."""
    stride = int(config["clips"].get("stride") or config["clips"].get("length", 8))
    training = config["expert_training"]
    train_clips = int(round(train_frames / stride))
    cap = training.get("max_clips_per_epoch")
    return Workload(
        train_clips=train_clips,
        query_clips=int(round(query_fraction * train_clips)),
        all_clips=int(round(all_frames / stride)),
        val_clips=int(round(val_frames / stride)),
        experts=tuple((eid, spec["name"]) for eid, spec in config["experts"].items()),
        epochs=int(training["epochs"]),
        rounds=int(training["rounds"]),
        max_clips_per_epoch=int(cap) if cap else None,
        spotter_epochs=int(config["spotter"]["training"]["epochs"]),
    )


def mssl_workload(config: Mapping[str, Any], query_fraction: float = MSSL_QUERY_FRACTION) -> Workload:
    """The paper's full run on MSSL: ``config`` is the resolved ``reference-mssl`` (no profile)."""
    frames = MSSL_HOURS * 3600 * FPS
    videos = MSSL_TRAIN_VIDEOS + MSSL_VAL_VIDEOS
    return workload_from_config(
        config,
        train_frames=frames * MSSL_TRAIN_VIDEOS / videos,
        val_frames=frames * MSSL_VAL_VIDEOS / videos,
        all_frames=frames,
        query_fraction=query_fraction,
    )


def synthetic_workload(config: Mapping[str, Any], query_fraction: float) -> Workload:
    """The workload of ``config`` (a resolved entry) on its synthetic dataset, whose splits and video length
    follow from its settings (:func:`benchmark.datasets.synthetic.writer.video_seconds`), without generating it."""
    from benchmark.datasets.synthetic import DEFAULTS
    from benchmark.datasets.synthetic.writer import video_seconds

    settings = {**DEFAULTS, **(config["dataset"].get("settings") or {})}
    sizes = {k: settings[k] for k in ("val_videos", "test_videos", "eval_seconds")}
    lengths = video_seconds(int(settings["videos"]), int(settings["signers"]), float(settings["seconds"]), **sizes)

    def frames(*splits: str) -> int:
        return sum(int(length * FPS) for split, length in lengths if split in splits)

    return workload_from_config(
        config,
        train_frames=frames("train"),
        val_frames=frames("validation"),
        all_frames=frames("train", "validation", "test"),
        query_fraction=query_fraction,
    )


def preprocess_seconds(rows: Sequence[Mapping[str, Any]], frames: float, skip: Sequence[str] = ()) -> float | None:
    """Seconds to preprocess ``frames`` frames with all workers at the rates ``bench perf preprocess`` measured
    (each modality's rate, ``skip`` left out: e.g. ``pose`` when the videos come with pose files); None when
    there are no such figures."""
    measured = [r for r in rows if r.get("part") == "preprocess" and r.get("item") not in ("total", *skip)]
    if not measured:
        return None
    most = max(int(r["variant"].split()[0]) for r in measured)  # "N workers": the run with all of them
    rates = {r["item"]: float(r["value"]) for r in measured if int(r["variant"].split()[0]) == most}
    if not all(rates.values()):
        return None
    return sum(frames / fps for fps in rates.values())


def query_sign_fraction(ground_truth: Mapping[str, Sequence], clips, train_frames: float | None = None) -> dict:
    """Share of training clips whose label (the majority of its frames, as training labels them) is a query sign.

    ``ground_truth``: ``{video: [[class, start_ms, end_ms], ...]}``;
    ``clips``: a :class:`benchmark.engine.clips.ClipSpec`;
    ``train_frames``: the training videos' frames when the lengths are not in the ground truth (MSSL: estimated
    from its 4 h), else each video is taken to end with its last sign (an upper bound of the share).
    Returns ``{"query_clips", "train_clips", "fraction", "signs"}``.
    """
    import numpy as np

    from benchmark.engine.clips import frame_labels, ms_to_frame

    query, upto_last, signs = 0, 0, 0
    for signs_of_video in ground_truth.values():
        if not signs_of_video:
            continue
        n_frames = int(ms_to_frame(max(int(end) for _, _, end in signs_of_video), clips.fps)) + 1
        labels = clips.clip_labels(frame_labels(signs_of_video, n_frames, clips.fps))
        query += int(np.count_nonzero(labels))
        upto_last += len(labels)
        signs += len(signs_of_video)
    total = int(round(train_frames / clips.stride)) if train_frames else upto_last
    return {"query_clips": query, "train_clips": total, "fraction": query / total if total else 0.0, "signs": signs}


def figures_from_rows(rows: Sequence[Mapping[str, Any]], size: str, spotter: str = "conv-bilstm") -> dict:
    """The clips/s an estimate needs, from ``bench perf`` rows measured at ``size``: ``{"train": {expert: cps},
    "extract": {expert: cps}, "spotter": cps or None, "decode_clips_per_s": ... or None, "size": size}``."""
    out: dict[str, Any] = {"train": {}, "extract": {}, "spotter": None, "decode_clips_per_s": None, "size": size}
    for r in rows:
        if r.get("part") == "experts" and r.get("size") == size:
            out[r["phase"]][r["expert"]] = float(r["clips_per_s"])
        elif r.get("part") == "spotter" and r.get("spotter") == spotter:
            out["spotter"] = float(r["clips_per_s"])
        elif r.get("part") == "decode" and r.get("clips_per_s"):
            out["decode_clips_per_s"] = float(r["clips_per_s"])
    return out


def estimate(workload: Workload, figures: Mapping[str, Any]) -> dict:
    """Seconds per stage and in all for ``workload`` at the clips/s in ``figures`` (:func:`figures_from_rows`).

    Returns ``{"experts": [{"id", "expert", "round1_clips", "round2_clips", "train_s", "extract_s"}], "spotter_s",
    "total_s", "total_h", "missing": [what had no figure: its time is left out], "workload": ...}``.
    """
    cap = workload.max_clips_per_epoch
    per_epoch = lambda clips: min(clips, cap) if cap else clips
    round1 = per_epoch(workload.query_clips) if workload.rounds == 2 else 0
    round2 = per_epoch(workload.train_clips)
    missing: list[str] = []
    experts = []
    for eid, name in workload.experts:
        row = {
            "id": eid,
            "expert": name,
            "round1_clips": round1 * workload.epochs,
            "round2_clips": round2 * workload.epochs,
        }
        for phase, clips in (("train", (round1 + round2) * workload.epochs), ("extract", workload.all_clips)):
            cps = (figures.get(phase) or {}).get(name)
            row[f"{phase}_s"] = clips / cps if cps else None
            if not cps and f"{name} {phase}" not in missing:
                missing.append(f"{name} {phase}")
        experts.append(row)
    spotter_s = None
    cps = figures.get("spotter")
    if cps:
        validate = workload.val_clips / (cps / FORWARD_SHARE)
        decode = workload.val_clips / figures["decode_clips_per_s"] if figures.get("decode_clips_per_s") else 0.0
        spotter_s = workload.spotter_epochs * (workload.train_clips / cps + validate + decode)
    else:
        missing.append("spotter training")
    total = sum(v for e in experts for v in (e["train_s"], e["extract_s"]) if v) + (spotter_s or 0.0)
    return {
        "experts": experts,
        "spotter_s": spotter_s,
        "total_s": total,
        "total_h": total / 3600,
        "missing": missing,
        "workload": asdict(workload),
        "size": figures.get("size"),
    }


def format_estimate(result: Mapping[str, Any], title: str) -> str:
    """The estimate as lines: one per expert (train, extract), the spotter, the total, and what is missing."""
    fmt = lambda s: "-" if s is None else f"{s / 3600:8.2f} h"
    w = result["workload"]
    lines = [
        title,
        f"  {w['train_clips']} training clips ({w['query_clips']} query-sign), {w['all_clips']} clips in all, "
        f"{w['epochs']} epochs x {w['rounds']} rounds"
        + (f" of at most {w['max_clips_per_epoch']} clips" if w["max_clips_per_epoch"] else "")
        + f", spotter {w['spotter_epochs']} epochs; figures at size {result.get('size')}",
    ]
    for e in result["experts"]:
        lines.append(
            f"  expert {e['id']:<10} ({e['expert']:<6}) train {fmt(e['train_s'])}   extract {fmt(e['extract_s'])}"
        )
    lines.append(f"  spotter (train + validation)          {fmt(result['spotter_s'])}")
    lines.append(f"  total                                 {fmt(result['total_s'])}  (preprocessing not included)")
    if result["missing"]:
        lines.append(f"  not measured (left out of the total): {', '.join(result['missing'])}")
    return "\n".join(lines)
