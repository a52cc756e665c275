"""``bench spot``: apply a finished run's trained pipeline to new videos or ``.pose`` files.

The run's tracker hands over its *pipeline bundle* (hook ``fetch_pipeline``): the resolved configuration, the
class names, and each trained expert's and the spotter's weights with what rebuilds them (``model.json``).
The inputs are preprocessed with the run's preprocessing settings (cached like any run's, keyed by their
content), every expert extracts its clip features, the spotter and the run's decoder spot the signs, and each
input gets an ELAN file with a tier of spotted signs (an existing ``.eaf`` beside it is copied with the tier
added, never overwritten) and/or a JSON or CSV of the segments with their scores.  Times are milliseconds in
the input's own time line (frames of the entry's ``preprocess.fps``, 40 ms at the default 25 fps).

A corpus, not one file:

* every input is checked before any work (a video's header and first frame, a ``.pose`` file read whole, the
  ``.eaf`` beside it parsed when an ``.eaf`` is written): ``on_bad_video="fail"`` lists every bad file in one
  error and starts nothing; ``"skip"`` names them in a warning and spots the others;
* inputs are preprocessed together (a process pool, cached per video), then feature extraction, the spotter
  and the decoder run per batch of :data:`benchmark.stages.decode.BATCH_VIDEOS` inputs (the decode stage's
  batches: the spotter's padding stays the run's, so the run's own test videos give its test predictions)
  and each batch's outputs are written (atomically) as soon as it finishes: a killed batch keeps them;
* resuming: after an input's outputs, a stamp ``.<id>.spot.json`` is written beside them in ``--out``,
  holding the bundle's id (sha256 of its configuration, classes, ``model.json`` and weight files, so
  ``--run RUN_ID`` and ``--run FOLDER`` of one run agree), the sha256 of the input's video and ``.pose``
  file, the tier, the formats and the sha256 of every output.  An input whose stamp matches all of that,
  with every output unchanged, is not recomputed; anything else (another run, an edited video, another
  ``--tier``, a deleted or edited output) is spotted again.  The JSON output carries the same ``pipeline``
  and ``input_sha256`` fields.

The written ``.eaf`` links the media it was spotted on (``MEDIA_URL`` absolute, ``RELATIVE_MEDIA_URL``
relative to the ``.eaf``, as ELAN writes them): a copied ``.eaf``'s descriptor of that media is pointed at
it, one is added when absent, and the copy's other relative links are re-based on ``--out``.  A ``.pose``
input without a video links nothing new (ELAN cannot play it).

Weights are read with ``torch.load(weights_only=True)``: a bundle from someone else's tracking server cannot
run code here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

import click

from benchmark.errors import BenchError, DataError
from benchmark.interfaces import VideoRecord
from benchmark.storage.bundle import Bundle
from benchmark.storage.files import write_json, write_text, write_with

MEDIA = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v")
MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".avi": "video/x-msvideo",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
}
FORMATS = ("eaf", "json", "csv")
STAMP_VERSION = 1


def find_bundle(pm, run: str, cache_dir=None) -> Bundle:
    """``run``: a tracked run's id (its tracker downloads the bundle into the cache), a run's output folder
    (``<cache>/runs/...``, what ``bench run`` printed) or a bundle folder."""
    from benchmark.storage.cache import StageCache

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_hashes(video: VideoRecord) -> dict[str, str]:
    """The sha256 of the input's video and ``.pose`` file (what "the same input" means when resuming)."""
    return {kind: file_sha256(Path(p)) for kind, p in (("video", video.video_path), ("pose", video.pose_path)) if p}


def fingerprint(hashes: dict[str, dict[str, str]]) -> str:
    """The inputs' part of the preprocessing cache key: every usable input's id and content, so a resumed
    batch (fewer inputs left to do) extends the same preprocessing folder."""
    return hashlib.sha256(json.dumps(sorted(hashes.items()), sort_keys=True).encode()).hexdigest()[:16]


def bundle_id(bundle: Bundle) -> str:
    """sha256 over the bundle's files (names and contents): the same trained pipeline wherever it was fetched."""
    digest = hashlib.sha256()
    for path in sorted(p for p in bundle.folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(bundle.folder).as_posix().encode() + b"\0" + file_sha256(path).encode())
    return digest.hexdigest()


# -- checking the inputs ------------------------------------------------------------------------------------


def bad_inputs(videos: list[VideoRecord], formats, frame_modalities=()) -> dict[str, str]:
    """``{video_id: why}`` for every input that cannot be spotted, all of them (cheap checks, before any work).
    ``frame_modalities``: what the pipeline computes from video frames (a ``.pose`` alone cannot feed them)."""
    bad = {}
    for video in videos:
        problem = _problem(video, formats)
        if problem is None and video.video_path is None and frame_modalities:
            problem = (
                f"{video.pose_path}: this pipeline's modalities {', '.join(frame_modalities)} need the video, and "
                f"no {video.video_id}.mp4 (or other video) was given with it: pass the video too, or the folder of both"
            )
        if problem:
            bad[video.video_id] = problem
    return bad


def frame_modalities(config: dict, components) -> list[str]:
    """The pipeline's modalities that only video frames can feed (a modality reading its own file, as pose reads
    ``.pose``, is fed by that file)."""
    from benchmark.interfaces import Modality
    from benchmark.preprocessing.plan import modality_plan
    from benchmark.stages.preprocess import needed_modalities

    plan = modality_plan(needed_modalities(config), components("modality"))
    return [n for n, m in plan.items() if m.needs_frames and type(m).read_file is Modality.read_file]


def _problem(video: VideoRecord, formats) -> str | None:
    if video.video_path is not None:
        problem = _video_problem(Path(video.video_path))
        if problem:
            return problem
    if video.pose_path is not None:
        try:
            from benchmark.modalities.pose import read_pose_file

            read_pose_file(Path(video.pose_path))
        except Exception as exc:  # pose-format reports a broken file in many ways; all mean the same here
            return f"pose file {video.pose_path}: cannot be read ({_short(exc)}); re-export it or remove it"
    beside = _beside(video) if "eaf" in formats else None
    if beside is not None:
        try:
            import pympi

            pympi.Elan.Eaf(str(beside))
        except Exception as exc:  # XML and pympi errors alike
            return (
                f"{beside}: ELAN cannot parse it ({_short(exc)}); it would be copied with the spotted tier: fix it, "
                "move it away, or leave out --format eaf"
            )
    return None


def _video_problem(path: Path) -> str | None:
    """A :class:`DataError` of opening the video or decoding its first frame, as text (None: readable)."""
    from benchmark.preprocessing.frames import open_video

    try:
        cap = open_video(path)
    except DataError as exc:
        return str(exc)
    try:
        ok, _ = cap.read()
    finally:
        cap.release()
    if not ok:
        return f"video {path}: no frame could be decoded (zero frames or corrupt stream); re-encode it"
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def refuse_or_skip(bad: dict[str, str], videos: list[VideoRecord], on_bad_video: str, echo) -> list[VideoRecord]:
    """``fail``: one error listing every bad input; ``skip``: a warning naming each, the others returned."""
    if not bad:
        return videos
    listing = "\n".join(f"  {why}" for why in bad.values())
    if on_bad_video == "fail":
        raise DataError(
            f"{len(bad)} of {len(videos)} inputs cannot be spotted, nothing was started:\n{listing}\n"
            "fix or remove them, or pass --on-bad-video skip to spot the others"
        )
    echo(f"warning: skipping {len(bad)} of {len(videos)} inputs (--on-bad-video skip):\n{listing}")
    return [v for v in videos if v.video_id not in bad]


# -- resuming -------------------------------------------------------------------------------------------------


def stamp_path(out: Path, video_id: str) -> Path:
    return Path(out) / f".{video_id}.spot.json"


def output_paths(out: Path, video_id: str, formats) -> list[Path]:
    return [Path(out) / f"{video_id}.{fmt}" for fmt in FORMATS if fmt in formats]


def stamp_for(pipeline: str, hashes: dict[str, str], tier: str, formats) -> dict:
    return {
        "version": STAMP_VERSION,
        "pipeline": pipeline,
        "input_sha256": hashes,
        "tier": tier,
        "formats": sorted(formats),
    }


def already_spotted(out: Path, video_id: str, expected: dict) -> bool:
    """Whether ``out`` holds this input's outputs, complete, for the same pipeline, content, tier and formats."""
    path = stamp_path(out, video_id)
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if {k: stamp.get(k) for k in expected} != expected:
        return False
    outputs = stamp.get("outputs") or {}
    files = output_paths(out, video_id, expected["formats"])
    return sorted(outputs) == sorted(p.name for p in files) and all(
        p.is_file() and file_sha256(p) == outputs[p.name] for p in files
    )


def write_stamp(out: Path, video_id: str, stamp: dict, written: list[Path]) -> None:
    """Last, after the input's outputs: its presence says they are all complete."""
    write_json(stamp_path(out, video_id), {**stamp, "outputs": {p.name: file_sha256(p) for p in written}})


# -- spotting ---------------------------------------------------------------------------------------------------


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
    on_bad_video: str = "fail",
    echo=print,
) -> list[Path]:
    """Spot the signs of ``inputs`` with the bundle's pipeline; the output files of every input spotted (written
    now or kept from an earlier, identical run)."""
    from benchmark.runtime.torch_setup import choose_device

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise BenchError(f"--format {unknown[0]!r}: expected one of {', '.join(FORMATS)}")
    if on_bad_video not in ("fail", "skip"):
        raise BenchError(f"--on-bad-video must be 'fail' or 'skip', got {on_bad_video!r}")
    out = Path(out)
    videos = inputs_of(inputs)
    check_out(videos, out, formats)
    needs_video = frame_modalities(bundle.config, pm.components)
    videos = refuse_or_skip(bad_inputs(videos, formats, needs_video), videos, on_bad_video, echo)
    if not videos:
        raise DataError("no input left to spot: every one was skipped (see the warning above)")
    pipeline = bundle_id(bundle)
    hashes = {v.video_id: input_hashes(v) for v in videos}
    stamps = {v.video_id: stamp_for(pipeline, hashes[v.video_id], tier, formats) for v in videos}
    todo = [v for v in videos if not already_spotted(out, v.video_id, stamps[v.video_id])]
    if len(todo) < len(videos):
        echo(f"{len(videos) - len(todo)} of {len(videos)} inputs already spotted in {out} by this pipeline: kept")
    done = {v.video_id for v in videos} - {v.video_id for v in todo}
    if todo:
        context = _Context(pm, bundle, choose_device(device), cache_dir, progress, echo)
        done |= context.run(todo, fingerprint(hashes), out, formats, tier, stamps, on_bad_video)
    return [p for v in videos if v.video_id in done for p in output_paths(out, v.video_id, formats)]


class _Context:
    """One ``bench spot``: the bundle's models built once, then applied batch by batch."""

    def __init__(self, pm, bundle: Bundle, device: str, cache_dir, progress: bool, echo):
        self.pm, self.bundle, self.device, self.progress, self.echo = pm, bundle, device, progress, echo
        self.cache_dir = cache_dir
        self.config, self.names = bundle.config, bundle.class_names

    def run(self, todo, fingerprint: str, out: Path, formats, tier: str, stamps: dict, on_bad_video: str) -> set:
        """Preprocess ``todo`` together, then extract, spot, decode and write batch by batch; the ids written."""
        from benchmark.stages.decode import BATCH_VIDEOS

        data, pre = self.preprocess(todo, fingerprint, on_bad_video)
        videos = list(data.videos["test"])
        extractors, spotter, decode = self.models()
        written: set[str] = set()
        bar = _bar(len(videos), self.progress)
        try:
            for start in range(0, len(videos), BATCH_VIDEOS):  # as the decode stage batches: the same padding
                chunk = videos[start : start + BATCH_VIDEOS]
                segments = self.spot_batch(chunk, data, pre, extractors, spotter, decode)
                for video in chunk:
                    files = write_outputs(
                        video, segments[video.video_id], self.names, out, formats, tier, stamps[video.video_id]
                    )
                    write_stamp(out, video.video_id, stamps[video.video_id], files)
                    written.add(video.video_id)
                    bar.update(1)
        finally:
            bar.close()
        return written

    def preprocess(self, todo, fingerprint: str, on_bad_video: str):
        from benchmark.stages.base import Stages
        from benchmark.stages.handoffs import RunData
        from benchmark.stages.preprocess import preprocess
        from benchmark.storage.cache import StageCache

        config = self.config
        config["preprocess"] = {**config["preprocess"], "on_bad_video": on_bad_video}
        data = RunData("spot", None, fingerprint, tuple(self.names), {"train": (), "test": tuple(todo)}, "test", None)
        stages = Stages(
            StageCache(self.cache_dir), self.pm.components, None, None, device=self.device,
            progress=self.progress, echo=self.echo,
        )  # fmt: skip
        pre = preprocess(stages, data, config)
        skipped = {v: why for v, why in pre.skipped.items() if v in {t.video_id for t in todo}}
        if skipped and on_bad_video == "fail":  # found bad while decoding, by this run or an earlier skip
            listing = "\n".join(f"  {why}" for why in skipped.values())
            raise DataError(f"{len(skipped)} inputs cannot be decoded:\n{listing}\n--on-bad-video skip leaves them out")
        for video_id, why in skipped.items():
            self.echo(f"warning: skipped {video_id} (--on-bad-video skip): {why}")
        return pre.restrict(data), pre

    def models(self):
        """Each expert's feature extractor, the spotter and the decoder, built once."""
        from benchmark.engine.expert_training import training_for
        from benchmark.engine.extraction import FeatureExtractor
        from benchmark.stages.spotter import decode_function

        config, components = self.config, self.pm.components
        extractors = []
        for eid in self.bundle.expert_ids:
            meta, state = self.bundle.model(f"experts/{eid}")
            expert = components("expert").get(meta["name"])
            training = training_for(expert, config["expert_training"], config["experts"][eid].get("training"))
            extract = FeatureExtractor(
                expert,
                meta["settings"],
                state,
                self.device,
                int(training["extract_batch_size"]),
                modality=components("modality").get(meta["modality"]),
                training=training,
                runtime=config.get("runtime"),
            )
            extractors.append((meta["modality"], extract))
        spotter = self.bundle.build("spotter", components, self.device)
        decode = decode_function(components("decoder").get(config["decoder"]["name"]), config)
        return extractors, spotter, decode

    def spot_batch(self, chunk, data, pre, extractors, spotter, decode) -> dict[str, list]:
        """``{video_id: [[class, start_ms, end_ms, score], ...]}`` for one batch of inputs."""
        import numpy as np

        from benchmark.engine.clips import ClipSpec
        from benchmark.engine.inference import predict_batch_with_model

        clips = ClipSpec.from_config(self.config)
        stacked = [
            np.concatenate(
                [extract(pre.array(v.video_id, modality), clips) for modality, extract in extractors], axis=1
            )
            for v in chunk
        ]
        segments = {}
        for video, output in zip(chunk, predict_batch_with_model(spotter, stacked, self.device)):
            probs, offsets, *levels = output
            segments[video.video_id] = [list(s) for s in decode(probs, offsets, data.n_frames(video.video_id), *levels)]
        return segments


def _bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="spot", unit="video", leave=False, disable=not enabled)


# -- writing ------------------------------------------------------------------------------------------------------


def segment_rows(segments, names: list[str]) -> list[dict]:
    # the challenge's convention: end_ms is the start of the sign's last frame (as predictions.pkl)
    return [
        {
            "class_id": int(s[0]),
            "gloss": names[int(s[0])] if 0 <= int(s[0]) < len(names) else str(s[0]),
            "start_ms": int(s[1]),
            "end_ms": int(s[2]),
            "score": float(s[3]) if len(s) > 3 else None,
        }
        for s in segments
    ]


def write_outputs(video, segments, names: list[str], out: Path, formats, tier: str, stamp: dict) -> list[Path]:
    """One input's outputs, each written atomically, in :data:`FORMATS` order."""
    rows = segment_rows(segments, names)
    written = []
    if "eaf" in formats:
        written.append(write_eaf(video, rows, out / f"{video.video_id}.eaf", tier))
    if "json" in formats:
        media = video.video_path or video.pose_path
        document = {
            "video": video.video_id,
            "media": str(Path(media).resolve()),
            "pipeline": stamp["pipeline"],
            "input_sha256": stamp["input_sha256"],
            "segments": rows,
        }
        written.append(write_json(out / f"{video.video_id}.json", document))
    if "csv" in formats:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["class_id", "gloss", "start_ms", "end_ms", "score"])
        writer.writeheader()
        writer.writerows(rows)
        written.append(write_text(out / f"{video.video_id}.csv", buffer.getvalue()))
    return written


def _beside(video: VideoRecord) -> Path | None:
    """The input's own ``.eaf``, found as the ``elan`` dataset finds it: ``<stem>.eaf``, else one in its folder
    that links it (``RELATIVE_MEDIA_URL`` / ``MEDIA_URL``)."""
    from benchmark.datasets.elan import eaf_for_media

    return eaf_for_media(Path(video.video_path or video.pose_path))


def check_out(videos: list[VideoRecord], out: Path, formats) -> None:
    """Before any work: an input's own ``.eaf`` is never the file written."""
    if "eaf" not in formats:
        return
    for video in videos:
        beside, target = _beside(video), Path(out) / f"{video.video_id}.eaf"
        if beside is not None and target.resolve() == beside.resolve():
            raise BenchError(f"--out {out}: would overwrite the input's own {beside}; choose another --out folder")


def write_eaf(video: VideoRecord, rows: list[dict], path: Path, tier: str) -> Path:
    """An ELAN file with ``tier`` holding the spotted glosses; an ``.eaf`` beside the input is its starting point
    (copied, never changed), else a new one; either way linked to the media spotted."""
    import pympi

    beside = _beside(video)
    eaf = pympi.Elan.Eaf(str(beside)) if beside is not None else pympi.Elan.Eaf()
    link_media(eaf, beside.parent if beside is not None else None, video.video_path, Path(path).parent)
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


def link_media(eaf, source_dir: Path | None, media: Path | None, target_dir: Path) -> None:
    """Media descriptors for an ``.eaf`` written into ``target_dir``: the copied ones' relative links re-based
    (they were relative to ``source_dir``); the spotted ``media`` linked (its descriptor updated, or added)."""
    media = Path(media).resolve() if media is not None else None
    found = False
    for descriptor in eaf.media_descriptors:
        linked = _linked_path(descriptor, source_dir)
        if media is not None and linked is not None and linked == media:
            linked, found = media, True
            descriptor["MIME_TYPE"] = descriptor.get("MIME_TYPE") or MIME.get(media.suffix.lower(), "video/*")
        if linked is not None:
            descriptor["MEDIA_URL"] = linked.as_uri()
            descriptor["RELATIVE_MEDIA_URL"] = _relative_url(linked, target_dir)
    if media is not None and not found:
        eaf.add_linked_file(
            media.as_uri(), relpath=_relative_url(media, target_dir), mimetype=MIME.get(media.suffix.lower(), "video/*")
        )


def _linked_path(descriptor: dict, source_dir: Path | None) -> Path | None:
    """Where a descriptor points, as ELAN resolves it: the relative URL beside the ``.eaf`` first, else the
    absolute one; None when neither names an existing file."""
    from benchmark.datasets.elan import url_path

    candidates = []
    relative = descriptor.get("RELATIVE_MEDIA_URL")
    if relative and source_dir is not None:
        candidates.append(source_dir / url_path(relative))
    candidates.append(Path(url_path(descriptor.get("MEDIA_URL") or "")))
    for candidate in candidates:
        if str(candidate) and candidate.is_file():
            return candidate.resolve()
    return None


def _relative_url(media: Path, target_dir: Path) -> str:
    """ELAN's form: ``./clip.mp4``, ``../videos/clip.mp4`` (POSIX separators, percent-encoded)."""
    from urllib.parse import quote

    rel = Path(os.path.relpath(media, Path(target_dir).resolve())).as_posix()
    return quote(rel if rel.startswith("../") else f"./{rel}", safe="/.-_~")


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
@click.option(
    "--on-bad-video",
    type=click.Choice(["skip", "fail"]),
    default="fail",
    show_default=True,
    help="An input that cannot be read (video, .pose, or the .eaf beside it): fail (nothing is started; the "
    "error lists every bad input) or skip (warn, naming them, and spot the others).",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.pass_context
def spot_command(ctx, run, inputs, out, formats, tier, device, on_bad_video, no_progress) -> None:
    """Spot signs in new videos or .pose files with a finished run's trained pipeline.

    \b
    bench spot --run 3f2a... recording.mp4 --out spotted/
    bench spot --run 3f2a... corpus/ --out spotted/ --format eaf --tier Spotted
    bench spot --run 3f2a... ./-take2.mp4 --out spotted/    (a name starting with - needs ./)

    Each input gets an .eaf with a tier of spotted glosses, linked to the media (an .eaf beside the input
    is copied with the tier added; the original is never changed) and a JSON (or CSV) of the segments
    with their scores. Times are milliseconds in the input's own time line: start_ms and end_ms fall on
    frames of the run's frame rate (preprocess.fps; 40 ms at the default 25 fps). Every input is checked
    first; each one's outputs are written as soon as it is spotted, and the same command run again skips
    the inputs already spotted in --out by the same pipeline (a killed batch resumes).
    """
    from benchmark.plugins import get_plugin_manager
    from benchmark.runtime.torch_setup import check_device

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
        on_bad_video=on_bad_video,
        echo=echo,
    )
    for path in written:
        click.echo(str(path))
