"""``bench review DIR --out review.html``: a static page (or subtitles) to look through spotted signs.

The reading and the page are :mod:`benchmark.reports.review`'s; the subtitles (``--format srt``) are written
here: one cue per spotted segment, and per missed human sign, for any video player.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from benchmark.reports import IOU

MIN_CUE_MS = 40  # a cue lasts a frame (25 fps) at least: a segment's end_ms is the start of its last frame


def srt_time(ms: int) -> str:
    """``HH:MM:SS,mmm``, SubRip's time."""
    hours, rest = divmod(max(0, int(ms)), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"


def render_srt(f) -> str:
    """One cue per spotted segment (``GLOSS (0.87)``) and per missed human sign (``[miss] GLOSS``), by start
    (overlapping cues are fine in SubRip: players stack them)."""
    cues = [(s.start_ms, s.end_ms, s.gloss + (f" ({s.score:.2f})" if s.score is not None else "")) for s in f.spotted]
    cues += [(h.start_ms, h.end_ms, f"[miss] {h.gloss}") for h in f.human or [] if h.status == "miss"]
    blocks = []
    for i, (start, end, text) in enumerate(sorted(cues), 1):
        text = " ".join(text.split()) or "?"  # a blank line would end the cue
        blocks.append(f"{i}\n{srt_time(start)} --> {srt_time(max(end, start + MIN_CUE_MS))}\n{text}\n")
    return "\n".join(blocks)


def write_srt(review, out: Path) -> list[Path]:
    """``<id>.srt`` per file into the folder ``out``, and ``<video stem>.srt`` too where the video's stem differs
    (a player loads subtitles of the video's name, once the two are side by side); videos are never copied.
    ``out`` may name a ``.srt`` file when there is one file."""
    from benchmark.errors import BenchError
    from benchmark.reports.review import PLAYABLE
    from benchmark.storage.files import write_text

    if out.suffix.lower() == ".srt":
        if len(review.files) != 1:
            raise BenchError(f"--out {out}: {len(review.files)} files have subtitles: give a folder for --format srt")
        return [write_text(out, render_srt(review.files[0]))]
    written: list[Path] = []
    for f in review.files:
        text = render_srt(f)
        names = [f.file_id] + ([f.media.stem] if f.media is not None and f.media.suffix.lower() in PLAYABLE else [])
        for name in dict.fromkeys(re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", n) for n in names):
            if out / f"{name}.srt" not in written:
                written.append(write_text(out / f"{name}.srt", text))
    return written


@click.command("review")
@click.argument("folder", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The page to write (html; a folder gets review.html), or the folder of .srt files (srt).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "srt"]),
    default="html",
    show_default=True,
    help="html: one self-contained page; srt: subtitles per file (<id>.srt, and <video stem>.srt).",
)
@click.option(
    "--tier",
    help="The human tier of the .eaf files: a name or an fnmatch pattern (case-sensitive; every matching tier is "
    "read).  Default: the one other non-empty tier of each file, if there is exactly one.",
)
@click.option(
    "--spotted-tier",
    help="The spotted tier of the .eaf files (name or pattern), read instead of <id>.json.  Default: the JSON "
    "where there is one, else the tier 'spotted', else 'SIGN'.",
)
@click.option(
    "--iou",
    type=click.FloatRange(0, 1, min_open=True),
    default=IOU,
    show_default=True,
    help="Temporal IoU (same gloss) for the miss / false-positive marks.",
)
@click.option("--title", help="The page's title (default: 'Spotted signs: N file(s)').")
def review(folder, out, fmt, tier, spotted_tier, iou, title):
    """A static page to look through the signs spotted in DIR: per file, timelines of the human and the spotted
    tier (misses and false positives marked), a sortable table, and the video, which a click on a segment seeks
    to.  One HTML file, no server, no network; the video is linked relative to the page, so keep the two where
    they are (or move them together).  Prints the path(s) written.

    \b
    DIR is one of:
      - a `bench spot` output folder: <id>.eaf (with the spotted tier) and/or <id>.json;
      - a run folder (what `bench run` prints as output_dir): its review.json, ground truth vs. predictions;
      - a folder of .eaf files with a human and a spotted tier (--tier, --spotted-tier).
    The marks count per segment at --iou: a review aid, not the official metric (`bench score`).

    \b
    Examples:
      bench review spotted/ --out spotted/review.html
      bench review corpus/ --tier 'Gloss*' --spotted-tier SIGN --out review.html
      bench review spotted/ --format srt --out subtitles/
    """
    from benchmark.errors import BenchError
    from benchmark.reports.review import collect, write_html

    try:
        result = collect(folder, tier=tier, spotted_tier=spotted_tier, threshold=iou)
        for warning in result.warnings:
            click.echo(f"review: {warning}", err=True)
        paths = write_srt(result, out) if fmt == "srt" else [write_html(result, out, title)]
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc}") from None
    for path in paths:
        click.echo(str(path))
