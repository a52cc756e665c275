"""``bench lookup``: the command; the work is :mod:`benchmark.spot.lookup`."""

from __future__ import annotations

from pathlib import Path

import click

from benchmark.spot.outputs import FORMATS


@click.command("lookup")
@click.argument("targets", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--query",
    "queries",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An example of a sign, a video or .pose file; its file name (stem) is the gloss (repeatable).",
)
@click.option(
    "--dictionary",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of examples, one per gloss (the file name is the gloss; .mp4 and .pose of one name: one).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write to.")
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="The score a hit needs (default: the one chosen on the synthetic OSLWL validation split).",
)
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS), help="Repeatable (default eaf, json).")
@click.option("--tier", default="spotted", show_default=True, help="Name of the ELAN tier of found signs.")
@click.option("--on-bad-video", type=click.Choice(["skip", "fail"]), default="fail", show_default=True)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.pass_context
def lookup_command(ctx, targets, queries, dictionary, out, threshold, formats, tier, on_bad_video, no_progress):
    """Find signs given one example each (query by example) in videos or .pose files; no training.

    \b
    bench lookup --query CASA.mp4 --query COMER.pose recordings/ --out found/
    bench lookup --dictionary signs/ session1.mp4 --out found/ --format csv

    Queries and targets are turned into skeletons (their .pose files, or MediaPipe on the video; cached), each
    query is aligned with every target by subsequence DTW, and the hits scored over --threshold are written as
    `bench spot` writes them: an .eaf per target (a copy of the one beside it, with the tier and its score
    tier), a JSON and/or CSV; a hit's gloss is its query's file name.
    """
    from benchmark.errors import BenchError
    from benchmark.plugins import get_plugin_manager
    from benchmark.spot.lookup import Matching, lookup, query_records

    echo = lambda m: click.echo(m, err=True)
    matching = Matching() if threshold is None else Matching(threshold=threshold)
    try:
        found = query_records(list(queries), dictionary)
        echo(f"{len(found)} queries: {', '.join(g for g, _ in found)}")
        written = lookup(
            get_plugin_manager(),
            found,
            list(targets),
            out,
            matching=matching,
            formats=tuple(formats) or ("eaf", "json"),
            tier=tier,
            cache_dir=(ctx.obj or {}).get("cache_dir"),
            progress=not no_progress,
            on_bad_video=on_bad_video,
            echo=echo,
        )
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(str(path))
