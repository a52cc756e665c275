"""What ``bench spot`` is given: the inputs found in files and folders, their content hashes, and the checks that
run on every input before any work (a video's header and first frame, a ``.pose`` file read whole, the ``.eaf``
beside it parsed when an ``.eaf`` is written), so a corpus fails or skips its bad files at once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmark.errors import BenchError, DataError
from benchmark.interfaces import VideoRecord
from benchmark.spot.media import MEDIA


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


def bad_inputs(videos: list[VideoRecord], formats, frame_modalities=()) -> dict[str, str]:
    """``{video_id: why}`` for every input that cannot be spotted, all of them (cheap checks, before any work).
    ``frame_modalities``: what the pipeline computes from video frames (a ``.pose`` alone cannot feed them)."""
    bad = {}
    for video in videos:
        problem = input_problem(video, formats)
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


def input_problem(video: VideoRecord, formats) -> str | None:
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
    own = beside(video) if "eaf" in formats else None
    if own is not None:
        from benchmark.spot.eaf import read_eaf

        try:
            read_eaf(own)  # what copies it: the XML as it is
        except DataError as exc:
            return f"{exc}; it would be copied with the spotted tiers: fix it, move it away, or leave out --format eaf"
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


def beside(video: VideoRecord) -> Path | None:
    """The input's own ``.eaf``, found as the ``elan`` dataset finds it: ``<stem>.eaf``, else one in its folder
    that links it (``RELATIVE_MEDIA_URL`` / ``MEDIA_URL``)."""
    from benchmark.datasets.elan import eaf_for_media

    return eaf_for_media(Path(video.video_path or video.pose_path))


def check_out(videos: list[VideoRecord], out: Path, formats) -> None:
    """Before any work: an input's own ``.eaf`` is never the file written."""
    if "eaf" not in formats:
        return
    for video in videos:
        found, target = beside(video), Path(out) / f"{video.video_id}.eaf"
        if found is not None and target.resolve() == found.resolve():
            raise BenchError(f"--out {out}: would overwrite the input's own {found}; choose another --out folder")
