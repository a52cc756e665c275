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
    from benchmark.spot.apply import find_bundle, spot

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
