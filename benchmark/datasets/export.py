"""A dataset's annotations as ELAN files: what ``bench score HUMAN_DIR SPOTTED_DIR`` and ``bench review`` read as
the human tier, for datasets that ship pickles (ChaLearn MSSL, the embedded synthetic one)."""

from __future__ import annotations

from pathlib import Path

from benchmark.errors import DataError


def write_eafs(dataset, split: str, out: Path, tier: str = "Gloss", progress: bool = True) -> list[Path]:
    """``<out>/<video>.eaf`` per video of ``split``: one tier ``tier`` holding its signs (the class names as
    values, ELAN's milliseconds as the dataset has them), the media linked (absolute and relative to ``out``)."""
    from benchmark.runtime.progress import bar

    if split not in dataset.splits():
        raise DataError(f"{dataset!r} has no split {split!r}; its splits: {', '.join(dataset.splits())}")
    videos = dataset.videos(split)
    if not dataset.labelled(split) or any(v.annotations is None for v in videos):
        raise DataError(f"split {split!r} of {dataset!r} has no ground truth to write")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(dataset.class_names)
    return [write_eaf(video, names, out, tier) for video in bar(videos, desc="write .eaf", enabled=progress)]


def write_eaf(video, names: list[str], out: Path, tier: str) -> Path:
    """One video's ``.eaf`` (written atomically; a sign of one frame, ``start == end``, is 1 ms long in ELAN)."""
    import os
    from urllib.parse import quote

    import pympi

    from benchmark.spot.media import MIME
    from benchmark.storage.files import write_with

    eaf = pympi.Elan.Eaf(author="signspot-bench")
    eaf.remove_tier("default")
    media = video.video_path or video.pose_path
    if video.video_path is not None:
        path = Path(video.video_path).resolve()
        rel = Path(os.path.relpath(path, out.resolve())).as_posix()
        rel = quote(rel if rel.startswith("../") else f"./{rel}", safe="/.-_~")
        eaf.add_linked_file(path.as_uri(), relpath=rel, mimetype=MIME.get(path.suffix.lower(), "video/*"))
    eaf.add_tier(tier)
    for class_id, start, end in video.annotations or ():
        eaf.add_annotation(tier, int(start), max(int(end), int(start) + 1), names[int(class_id)])

    def write(tmp: Path) -> None:
        tmp.unlink()  # pympi renames a file already there to `.bak`
        eaf.to_file(str(tmp))

    return write_with(out / f"{Path(media).stem if media else video.video_id}.eaf", write)
