"""``bench spot``: apply a finished run's trained pipeline to new videos or ``.pose`` files.

The run's tracker hands over its *pipeline bundle* (hook ``fetch_pipeline``): the resolved configuration, the
class names, and each trained expert's and the spotter's weights with what rebuilds them (``model.json``).
The inputs are preprocessed with the run's preprocessing settings (cached like any run's, keyed by their
content), every expert extracts its clip features, the spotter and the run's decoder spot the signs, and each
input gets an ELAN file with a tier of spotted signs (an existing ``.eaf`` beside it is copied with the tier
added, never overwritten) and/or a JSON or CSV of the segments with their scores.

Weights are read with ``torch.load(weights_only=True)``: a bundle from someone else's tracking server cannot
run code here.  The same videos give the same segments as the run's own test predictions.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import click

from benchmark.bundle import Bundle
from benchmark.errors import BenchError, DataError
from benchmark.files import write_json, write_text, write_with
from benchmark.interfaces import VideoRecord

MEDIA = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v")
FORMATS = ("eaf", "json", "csv")


def find_bundle(pm, run: str, cache_dir=None) -> Bundle:
    """``run``: a tracked run's id (its tracker downloads the bundle into the cache), a run's output folder
    (``<cache>/runs/...``, what ``bench run`` printed) or a bundle folder."""
    from benchmark.cache import StageCache

    path = Path(run).expanduser()
    if path.is_dir():
        return Bundle(path / "pipeline" if (path / "pipeline").is_dir() else path).check()
    destination = StageCache(cache_dir).root / "spot-runs"
    destination.mkdir(parents=True, exist_ok=True)
    for folder in pm.collect("fetch_pipeline", run_id=run, destination=destination):
        if folder:
            return Bundle(Path(folder)).check()
    raise BenchError(
        f"--run {run!r}: no tracker knows this run and it is not a folder: check the run id and "
        "MLFLOW_TRACKING_URI (`bench compare NAME` lists the runs of this store), or pass the run's output folder"
    )


def inputs_of(paths: list[Path]) -> list[VideoRecord]:
    """Each video (with a ``.pose`` beside it, when there is one) or ``.pose`` file; folders searched, any depth."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    media: dict[str, dict[str, Path]] = {}
    for f in files:
        kind = "pose" if f.suffix.lower() == ".pose" else "video" if f.suffix.lower() in MEDIA else None
        if kind is None:
            continue
        entry = media.setdefault(f.stem, {})
        if kind in entry and entry[kind] != f:
            raise DataError(f"two {kind} files named {f.stem!r}: {entry[kind]} and {f}; spot them separately")
        entry[kind] = f
    if not media:
        raise DataError(f"no video or .pose file in {', '.join(map(str, paths))}")
    return [VideoRecord(stem, "test", m.get("video"), m.get("pose")) for stem, m in sorted(media.items())]


def fingerprint(videos: list[VideoRecord]) -> str:
    digest = hashlib.sha256()
    for v in videos:
        for path in (v.video_path, v.pose_path):
            if path is not None:
                digest.update(v.video_id.encode())
                with open(path, "rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 20), b""):
                        digest.update(block)
    return digest.hexdigest()[:16]


def spot(
    pm,
    bundle: Bundle,
    inputs: list[Path],
    out: Path,
    *,
    formats=("eaf", "json"),
    cache_dir=None,
    device: str = "auto",
    progress: bool = True,
    tier: str = "spotted",
    echo=print,
) -> list[Path]:
    """Spot the signs of ``inputs`` with the bundle's pipeline; the files written."""
    import numpy as np

    from benchmark.cache import StageCache
    from benchmark.clips import ClipSpec
    from benchmark.stages.base import Stages
    from benchmark.stages.decode import BATCH_VIDEOS
    from benchmark.stages.handoffs import RunData
    from benchmark.stages.preprocess import preprocess
    from benchmark.stages.spotter import decode_function
    from benchmark.torch_setup import choose_device
    from experts.extraction import FeatureExtractor
    from experts.training import training_for
    from spotters.inference import predict_batch_with_model

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise BenchError(f"--format {unknown[0]!r}: expected one of {', '.join(FORMATS)}")
    config, names = bundle.config, bundle.class_names
    device = choose_device(device)
    videos = inputs_of(inputs)
    check_out(videos, Path(out), formats)
    data = RunData("spot", None, fingerprint(videos), tuple(names), {"train": (), "test": tuple(videos)}, "test", None)
    stages = Stages(StageCache(cache_dir), pm.components, None, None, device=device, progress=progress, echo=echo)
    pre = preprocess(stages, data, config)
    data = pre.restrict(data)
    for video_id, why in pre.skipped.items():
        echo(f"skipped {video_id}: {why}")
    videos = list(data.videos["test"])
    clips = ClipSpec.from_settings(config["clips"])
    features: dict[str, list] = {v.video_id: [] for v in videos}
    for eid in bundle.expert_ids:
        meta, state = bundle.model(f"experts/{eid}")
        expert = pm.components("expert").get(meta["name"])
        modality = pm.components("modality").get(meta["modality"])
        training = training_for(expert, config["expert_training"], config["experts"][eid].get("training"))
        extract = FeatureExtractor(
            expert,
            meta["settings"],
            state,
            device,
            int(training["extract_batch_size"]),
            modality=modality,
            training=training,
            runtime=config.get("runtime"),
        )
        for video in _bar(videos, f"extract {eid}", progress):
            features[video.video_id].append(extract(pre.array(video.video_id, meta["modality"]), clips))
    model = bundle.build("spotter", pm.components, device)
    decode = decode_function(pm.components("decoder").get(config["decoder"]["name"]), config)
    stacked = [np.concatenate(features[v.video_id], axis=1) for v in videos]
    segments = {}
    for start in range(0, len(videos), BATCH_VIDEOS):  # as the decode stage batches: the same padding
        chunk = videos[start : start + BATCH_VIDEOS]
        for video, output in zip(chunk, predict_batch_with_model(model, stacked[start : start + len(chunk)], device)):
            probs, offsets, *levels = output
            segments[video.video_id] = [list(s) for s in decode(probs, offsets, data.n_frames(video.video_id), *levels)]
    return write_outputs(videos, segments, names, Path(out), formats, tier)


def _bar(items, desc: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="video", leave=False)


def write_outputs(videos, segments: dict, names: list[str], out: Path, formats, tier: str) -> list[Path]:
    written = []
    for video in videos:
        segs = segments.get(video.video_id, [])
        # the challenge's convention: end_ms is the start of the sign's last frame (as predictions.pkl)
        rows = [
            {
                "class_id": int(s[0]),
                "gloss": names[int(s[0])] if 0 <= int(s[0]) < len(names) else str(s[0]),
                "start_ms": int(s[1]),
                "end_ms": int(s[2]),
                "score": float(s[3]) if len(s) > 3 else None,
            }
            for s in segs
        ]
        if "json" in formats:
            written.append(write_json(out / f"{video.video_id}.json", {"video": video.video_id, "segments": rows}))
        if "csv" in formats:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=["class_id", "gloss", "start_ms", "end_ms", "score"])
            writer.writeheader()
            writer.writerows(rows)
            written.append(write_text(out / f"{video.video_id}.csv", buffer.getvalue()))
        if "eaf" in formats:
            written.append(write_eaf(video, rows, out / f"{video.video_id}.eaf", tier))
    return written


def _beside(video: VideoRecord) -> Path:
    return Path(video.video_path or video.pose_path).with_suffix(".eaf")


def check_out(videos: list[VideoRecord], out: Path, formats) -> None:
    """Before any work: an input's own ``.eaf`` is never the file written."""
    if "eaf" not in formats:
        return
    for video in videos:
        beside, target = _beside(video), Path(out) / f"{video.video_id}.eaf"
        if beside.is_file() and target.resolve() == beside.resolve():
            raise BenchError(f"--out {out}: would overwrite the input's own {beside}; choose another --out folder")


def write_eaf(video: VideoRecord, rows: list[dict], path: Path, tier: str) -> Path:
    """An ELAN file with ``tier`` holding the spotted glosses; an ``.eaf`` beside the input is its starting point
    (copied, never changed), else a new one linked to the media."""
    import pympi

    beside = _beside(video)
    eaf = pympi.Elan.Eaf(str(beside)) if beside.is_file() else pympi.Elan.Eaf()
    if not beside.is_file() and video.video_path is not None:
        eaf.add_linked_file(str(Path(video.video_path).resolve()), mimetype="video/mp4")
    name, n = tier, 2
    while name in eaf.get_tier_names():
        name, n = f"{tier}-{n}", n + 1
    eaf.add_tier(name)
    for row in rows:  # the times as the project reads ELAN back (the `elan` dataset): the same segments
        eaf.add_annotation(name, row["start_ms"], max(row["end_ms"], row["start_ms"] + 1), row["gloss"])

    def write(tmp: Path) -> None:
        tmp.unlink()  # pympi renames a file already there to `.bak`: let it write a new one
        eaf.to_file(str(tmp))

    return write_with(path, write)


# -- the command ----------------------------------------------------------------------------------------------


@click.command("spot")
@click.option(
    "--run",
    "run",
    required=True,
    metavar="RUN_ID|FOLDER",
    help="A finished run: its MLflow run id (`bench run` prints it), its output folder, or a pipeline folder.",
)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write to.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(FORMATS),
    help="What to write per input (repeatable; default: eaf and json).",
)
@click.option("--tier", default="spotted", show_default=True, help="Name of the ELAN tier of spotted signs.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.pass_context
def spot_command(ctx, run, inputs, out, formats, tier, device, no_progress) -> None:
    """Spot signs in new videos or .pose files with a finished run's trained pipeline.

    \b
    bench spot --run 3f2a... recording.mp4 --out spotted/
    bench spot --run 3f2a... corpus/ --out spotted/ --format eaf --tier Spotted

    Each input gets an .eaf with a tier of spotted glosses (an .eaf beside the input is copied with the
    tier added; the original is never changed) and a JSON (or CSV) of the segments with their scores.
    Times follow the challenge: start_ms and end_ms on the 40 ms frame grid.
    """
    from benchmark.plugins import get_plugin_manager
    from benchmark.torch_setup import check_device

    check_device(device)
    pm = get_plugin_manager()
    cache_dir = (ctx.obj or {}).get("cache_dir")
    bundle = find_bundle(pm, run, cache_dir)
    echo = lambda m: click.echo(m, err=True)
    echo(f"pipeline: {bundle.folder} ({', '.join(bundle.expert_ids)} -> {bundle.meta('spotter')['name']})")
    written = spot(
        pm,
        bundle,
        list(inputs),
        out,
        formats=tuple(formats) or ("eaf", "json"),
        cache_dir=cache_dir,
        device=device,
        progress=not no_progress,
        tier=tier,
        echo=echo,
    )
    for path in written:
        click.echo(str(path))
