"""``bench spot``: the command; the work is :mod:`benchmark.spot`."""

from __future__ import annotations

from pathlib import Path

import click

from benchmark.spot.outputs import FORMATS

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
@click.option(
    "--tier",
    default=None,
    help="Name of the ELAN tier of spotted signs (default: SIGN for a sign-boundary run, trained with dataset "
    "setting labels: sign; else spotted). Its scores go to the dependent tier <tier>-score.",
)
@click.option(
    "--candidates",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="K",
    help="Also write each segment's next K-1 classes (tiers <tier>-2 .. <tier>-K with their -score tiers; "
    "'candidates' in JSON, gloss_k/score_k in CSV), ranked by their mean probability over the segment's clips.",
)
@click.option(
    "--min-score",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Leave out segments (and alternatives) scored below this.",
)
@click.option(
    "--also",
    "also",
    multiple=True,
    metavar="RUN_ID|FOLDER",
    help="Another finished run spotted into the same files, as a tier of its own (repeatable): e.g. an "
    "elan-sign-segmenter run beside a gloss run gives glosses and sign boundaries in one pass.",
)
@click.option("--start", default=None, help="Spot from this time on: seconds (90.5) or [HH:]MM:SS[.mmm].")
@click.option("--end", default=None, help="Spot up to this time (same forms); times stay the recording's own.")
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
def spot_command(
    ctx, run, inputs, out, formats, tier, candidates, min_score, also, start, end, device, on_bad_video, no_progress
) -> None:
    """Spot signs in new videos or .pose files with a finished run's trained pipeline.

    \b
    bench spot --run 3f2a... recording.mp4 --out spotted/
    bench spot --run 3f2a... corpus/ --out spotted/ --format eaf --tier Spotted
    bench spot --run 3f2a... ./-take2.mp4 --out spotted/    (a name starting with - needs ./)
    bench spot --run GLOSS_RUN --also SIGN_RUN corpus/ --out spotted/ --candidates 3 --min-score 0.2
    bench spot --run 3f2a... long.mp4 --out part/ --start 10:00 --end 12:30

    Each input gets an .eaf with a tier of spotted glosses, linked to the media (an .eaf beside the input
    is copied with the tiers added, everything else kept; the original is never changed), each segment's
    score in the dependent tier <tier>-score (ELAN shows it under the gloss), and a JSON (or CSV) of the
    segments with their scores. Times are milliseconds in the input's own time line (with --start, the
    whole recording's): start_ms and end_ms fall on frames of the run's frame rate (preprocess.fps; 40 ms
    at the default 25 fps). Every input is checked first; each one's outputs are written as soon as it is
    spotted, and the same command run again skips the inputs already spotted in --out by the same
    pipelines and options (a killed batch resumes).
    """
    from benchmark.plugins import get_plugin_manager
    from benchmark.runtime.torch_setup import check_device
    from benchmark.spot.apply import Request, find_bundle, spot
    from benchmark.spot.ranges import parse_time

    check_device(device)
    pm = get_plugin_manager()
    cache_dir = (ctx.obj or {}).get("cache_dir")
    request = Request(tier, candidates, min_score, parse_time(start, "--start"), parse_time(end, "--end"))
    bundle = find_bundle(pm, run, cache_dir)
    extra = tuple(find_bundle(pm, other, cache_dir) for other in also)
    echo = lambda m: click.echo(m, err=True)
    for b in (bundle, *extra):
        echo(f"pipeline: {b.folder} ({', '.join(b.expert_ids)} -> {b.meta('spotter')['name']})")
    written = spot(
        pm,
        bundle,
        list(inputs),
        out,
        formats=tuple(formats) or ("eaf", "json"),
        cache_dir=cache_dir,
        device=device,
        progress=not no_progress,
        on_bad_video=on_bad_video,
        echo=echo,
        also=extra,
        request=request,
    )
    for path in written:
        click.echo(str(path))
