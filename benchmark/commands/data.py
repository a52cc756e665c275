"""``bench data``: create the synthetic dataset and check dataset folders."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("data")
def data() -> None:
    """Create and check datasets (ChaLearn MSSL layout, ELAN corpora)."""


@data.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--videos", default=24, show_default=True, type=click.IntRange(3), help="Number of videos (all splits).")
@click.option("--classes", default=8, show_default=True, type=click.IntRange(1, 200), help="Number of query signs.")
@click.option("--signers", default=4, show_default=True, type=click.IntRange(1), help="Number of signers.")
@click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(0), help="Random seed (same seed, same data)."
)
@click.option("--seconds", default=30.0, show_default=True, type=click.FloatRange(4), help="Length of each video.")
@click.option("--size", default=360, show_default=True, type=click.IntRange(64, 2160), help="Frame height (16:9).")
@click.option(
    "--workers", default=0, show_default=True, type=click.IntRange(0), help="Render processes (0 = all cores)."
)
@click.option(
    "--fps",
    default=25.0,
    show_default=True,
    type=click.FloatRange(1, 240),
    help="Frame rate of the videos and .pose files (the same motion and ground truth in ms at any rate).",
)
def synth(out: Path, videos, classes, signers, seed, seconds, size, workers, fps) -> None:
    """Write a synthetic sign-spotting dataset to OUT (mp4 + .pose + ground truth, ChaLearn MSSL layout)."""
    import os
    import time

    from benchmark.datasets.synthetic import generate
    from benchmark.errors import BenchError

    t0 = time.time()
    try:
        generate(
            out,
            videos=videos,
            classes=classes,
            signers=signers,
            seed=seed,
            seconds=seconds,
            size=size,
            workers=workers or os.cpu_count() or 1,
            progress=True,
            fps=fps,
        )
    except BenchError as e:
        raise click.ClickException(str(e)) from None
    frames = int(round(seconds * fps)) * videos
    dt = time.time() - t0
    click.echo(
        f"wrote {videos} videos ({frames} frames) to {out} in {dt:.1f} s ({frames / max(dt, 1e-9):.0f} frames/s)"
    )
    click.echo(f"check it with: bench data check {out}")


@data.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--dataset",
    "dataset_name",
    type=click.Choice(["chalearn-mssl", "elan"]),
    default="chalearn-mssl",
    show_default=True,
    help="Folder layout: the ChaLearn MSSL layout (also what `bench data synth` writes) or an ELAN corpus.",
)
@click.option(
    "--num-classes",
    type=click.IntRange(1),
    default=None,
    help="Class count when the folder has no MSSL_SET_LABELS.txt (default 60; chalearn-mssl).",
)
@click.option("--tier", help="ELAN: the gloss tier, a name or glob pattern. Same as --set tier=...")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="ELAN: a dataset setting (tier, labels, top_k, splits, seed, overlap, on_missing_annotation, variants, "
    "variant_marker, exclude), as dataset.settings in a run; values parsed as YAML (repeatable).",
)
@click.option(
    "--no-open",
    is_flag=True,
    help="Do not open videos (faster; no durations, frame rates nor decode check). ELAN: .eaf files whose media "
    "are not there yet are counted too (label counts before the videos are downloaded).",
)
def check(path: Path, dataset_name, num_classes, tier, sets, no_open) -> None:
    """Validate a dataset folder and print its statistics and every problem (exit code 1 if any).

    \b
    bench data check /data/MSSL
    bench data check /data/corpus --dataset elan --tier 'Gloss*' --set top_k=20
    bench data check /data/eafs --dataset elan --tier Gloss --no-open --set variants=ignore
    """
    from benchmark.datasets.check import check_dataset, check_elan, format_report

    if dataset_name == "elan":
        if num_classes is not None:
            raise click.UsageError("--num-classes is for chalearn-mssl; an ELAN corpus takes --set labels=FILE")
        rep = check_elan(path, _settings(sets, tier), open_media=not no_open)
    else:
        if tier or sets:
            raise click.UsageError("--tier and --set are ELAN settings: add --dataset elan")
        rep = check_dataset(path, num_classes, open_media=not no_open)
    click.echo(format_report(rep))
    if rep["problems"]:
        raise SystemExit(1)


def _settings(sets, tier) -> dict:
    """``KEY=VALUE`` pairs (YAML values, as ``bench run --set``) and ``--tier`` as a settings mapping."""
    from benchmark.config.overrides import parse_set
    from benchmark.errors import ConfigError

    settings = {}
    for assignment in sets:
        try:
            path, value = parse_set(assignment)
        except ConfigError as e:
            raise click.BadParameter(str(e), param_hint="--set") from None
        settings[".".join(path)] = value
    if tier is not None:
        settings["tier"] = tier
    return settings
