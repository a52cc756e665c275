"""``bench data``: create the synthetic dataset and check dataset folders."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("data")
def data() -> None:
    """Create, check and export datasets (ChaLearn MSSL and OSLWL layouts, ELAN corpora)."""


@data.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--track",
    type=click.Choice(["mssl", "oslwl"]),
    default="mssl",
    show_default=True,
    help="mssl: continuous videos of the query signs (ChaLearn MSSL layout); oslwl: one isolated example per "
    "query sign by a signer the targets never show, ~4 s target clips holding one query sign each, and MSSL-style "
    "training videos of other signs (--videos, --classes, --seconds size that training part).",
)
@click.option("--queries", type=click.IntRange(1, 100), help="oslwl: query signs per split (default 6).")
@click.option("--targets-per-query", type=click.IntRange(1), help="oslwl: target clips per query (default 4).")
@click.option("--target-seconds", type=click.FloatRange(3, 60), help="oslwl: length of a target clip (default 4).")
@click.option(
    "--videos",
    default=24,
    show_default=True,
    type=click.IntRange(1),
    help="Number of videos (all splits; 3 at least for mssl; oslwl: training videos, default 8).",
)
@click.option(
    "--classes",
    default=8,
    show_default=True,
    type=click.IntRange(1, 200),
    help="Number of query signs (oslwl: of training classes, default 6).",
)
@click.option("--signers", default=4, show_default=True, type=click.IntRange(1), help="Number of signers.")
@click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(0), help="Random seed (same seed, same data)."
)
@click.option("--seconds", default=30.0, show_default=True, type=click.FloatRange(4), help="Length of each video.")
@click.option("--size", default=360, show_default=True, type=click.IntRange(64, 2160), help="Frame height (16:9).")
@click.option("--val-videos", type=click.IntRange(1), help="Validation videos (default: videos // 4).")
@click.option("--test-videos", type=click.IntRange(1), help="Test videos (default: videos // 4).")
@click.option(
    "--eval-seconds", type=click.FloatRange(4), help="Length of validation and test videos (default: --seconds)."
)
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
@click.pass_context
def synth(ctx, out: Path, track, queries, targets_per_query, target_seconds, **sizes):
    """Write a synthetic sign-spotting dataset to OUT (mp4 + .pose + ground truth): the ChaLearn MSSL layout, or
    with --track oslwl the one-shot track's (queries, target clips, training videos; see `chalearn-oslwl`)."""
    if track == "oslwl":
        _synth_oslwl(ctx, out, queries, targets_per_query, target_seconds, sizes)
        return
    oslwl_only = [n for n, v in (("--queries", queries), ("--targets-per-query", targets_per_query),
                                 ("--target-seconds", target_seconds)) if v is not None]  # fmt: skip
    if oslwl_only:
        raise click.UsageError(f"{', '.join(oslwl_only)}: for --track oslwl")
    _synth_mssl(out, **sizes)


def _synth_oslwl(ctx, out: Path, queries, targets_per_query, target_seconds, sizes: dict) -> None:
    """``--track oslwl``: the options given explicitly size the training part; the rest keep the generator's
    defaults (smaller than MSSL's)."""
    import os
    import time

    from benchmark.datasets.synthetic.oslwl import generate_oslwl
    from benchmark.errors import BenchError

    mssl_only = [f"--{k.replace('_', '-')}" for k in ("val_videos", "test_videos", "eval_seconds") if sizes[k]]
    if mssl_only:
        raise click.UsageError(f"{', '.join(mssl_only)}: for --track mssl")
    given = {k: v for k, v in sizes.items() if ctx.get_parameter_source(k).name != "DEFAULT"}
    names = {"videos": "train_videos", "classes": "train_classes"}
    settings = {names.get(k, k): v for k, v in given.items() if k not in ("workers", "val_videos", "test_videos",
                                                                            "eval_seconds")}  # fmt: skip
    extra = {"queries": queries, "targets_per_query": targets_per_query, "target_seconds": target_seconds}
    settings.update({k: v for k, v in extra.items() if v is not None})
    t0 = time.time()
    try:
        generate_oslwl(out, workers=sizes["workers"] or os.cpu_count() or 1, progress=True, **settings)
    except BenchError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote the OSLWL track to {out} in {time.time() - t0:.1f} s")
    click.echo(f"check it with: bench data check {out} --dataset chalearn-oslwl")


def _synth_mssl(out: Path, videos, classes, signers, seed, seconds, size, val_videos, test_videos, eval_seconds,
                workers, fps) -> None:  # fmt: skip
    import os
    import time

    from benchmark.datasets.synthetic import generate
    from benchmark.datasets.synthetic.writer import video_seconds
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
            val_videos=val_videos,
            test_videos=test_videos,
            eval_seconds=eval_seconds,
        )
    except BenchError as e:
        raise click.ClickException(str(e)) from None
    lengths = video_seconds(videos, signers, seconds, val_videos, test_videos, eval_seconds)
    frames = sum(int(round(length * fps)) for _, length in lengths)
    dt = time.time() - t0
    click.echo(
        f"wrote {videos} videos ({frames} frames) to {out} in {dt:.1f} s ({frames / max(dt, 1e-9):.0f} frames/s)"
    )
    click.echo(f"check it with: bench data check {out}")


DATASET_OPTION = click.option(
    "--dataset",
    "dataset_name",
    metavar="NAME",
    default="chalearn-mssl",
    show_default=True,
    help="The dataset reading the folder: chalearn-mssl (the ChaLearn MSSL layout, also what `bench data synth` "
    "writes), elan (an ELAN corpus), synthetic (takes --set labels=sign), or any registered dataset (`bench list`).",
)


@data.command("check")
@click.argument("path", type=click.Path(path_type=Path))
@DATASET_OPTION
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
    help="A dataset setting, as dataset.settings in a run (ELAN: tier, labels, top_k, splits, seed, overlap, "
    "on_missing_annotation, variants, variant_marker, exclude); values parsed as YAML (repeatable).",
)
@click.option(
    "--no-open",
    is_flag=True,
    help="Do not open videos (faster; no durations, frame rates nor decode check). ELAN: .eaf files whose media "
    "are not there yet are counted too (label counts before the videos are downloaded).",
)
@click.pass_context
def check(ctx, path: Path, dataset_name, num_classes, tier, sets, no_open) -> None:
    """Validate a dataset folder and print its statistics and every problem (exit code 1 if any).

    \b
    bench data check /data/MSSL
    bench data check /data/corpus --dataset elan --tier 'Gloss*' --set top_k=20
    bench data check /data/eafs --dataset elan --tier Gloss --no-open --set variants=ignore
    """
    from benchmark.datasets.check import format_report

    datasets = _datasets(dataset_name)
    dataset = datasets[dataset_name]
    settings = _settings(sets, tier)
    if num_classes is not None:
        if "num_classes" not in dataset.declared():
            raise click.UsageError(f"--num-classes is for chalearn-mssl; dataset {dataset_name} takes --set KEY=VALUE")
        settings["num_classes"] = num_classes
    _refuse_other_datasets_settings(dataset_name, settings, datasets)
    rep = dataset.check(path, settings, _cache_dir(ctx), open_media=not no_open)
    click.echo(format_report(rep))
    if rep["problems"]:
        raise SystemExit(1)


@data.command("eaf")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write to.")
@DATASET_OPTION
@click.option("--split", default="test", show_default=True, help="train, validation or test.")
@click.option("--tier", default="Gloss", show_default=True, help="Name of the tier written.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="A dataset setting (repeatable).")
@click.pass_context
def eaf(ctx, path: Path, out: Path, dataset_name, split, tier, sets) -> None:
    """Write a dataset split's annotations as ELAN files (one per video, linked to its media).

    \b
    bench data eaf /data/MSSL --out human/                  # the test split's ground truth as .eaf
    bench data eaf synthetic/ --dataset synthetic --set labels=sign --out signs/

    The human side of `bench score HUMAN_DIR SPOTTED_DIR` and `bench review` for datasets that ship pickles.
    """
    from benchmark.datasets.export import write_eafs
    from benchmark.errors import BenchError

    datasets = _datasets(dataset_name)
    try:
        dataset = datasets[dataset_name].open(path, _settings(sets, None), _cache_dir(ctx), progress=True)
        written = write_eafs(dataset, split, out, tier)
    except BenchError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {len(written)} .eaf files (tier {tier!r}, {split} split) to {out}")


def _datasets(wanted: str) -> dict:
    """The registered dataset classes by name (built-in and plugins'); ``wanted`` must be one of them."""
    from benchmark.plugins import get_plugin_manager

    registry = get_plugin_manager().components("dataset")
    datasets = {name: registry.get(name) for name in registry.names()}
    if wanted not in datasets:
        raise click.BadParameter(
            f"unknown dataset {wanted!r}; registered: {', '.join(datasets)}", param_hint="--dataset"
        )
    return datasets


def _refuse_other_datasets_settings(name: str, settings: dict, datasets: dict) -> None:
    """Settings the chosen dataset does not declare but another does (``--tier`` without ``--dataset elan``): a
    usage error naming that dataset.  Other unknown keys are the dataset's check to report."""
    unknown = [k for k in settings if k not in datasets[name].declared()]
    others = [n for n, cls in datasets.items() if unknown and all(k in cls.declared() for k in unknown)]
    if others:
        raise click.UsageError(
            f"setting(s) {', '.join(unknown)} (--tier, --set) belong to dataset {' or '.join(others)}, not"
            f" {name}: add --dataset {others[0]}"
        )


def _cache_dir(ctx) -> Path:
    """The stage cache's root (``--cache-dir`` of ``bench``, else its default), for datasets that cache."""
    from benchmark.storage.cache import default_cache_dir

    cache_dir = (ctx.find_root().obj or {}).get("cache_dir")
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


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
