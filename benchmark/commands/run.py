"""``bench run``: one benchmark entry, or an ad-hoc combination of components, end to end."""

from __future__ import annotations

import json

import click

from benchmark.commands.options import no_progress_option, run_options

JSON_KEYS = ("run_id", "run_name", "f1", "f1_ci", "precision", "recall", "seconds", "val_f1")


@click.command("run")
@click.argument("name", required=False)
@run_options
@click.option("--seed", type=int, help="Random seed (default: the entry's, 0).")
@click.option(
    "--devices",
    metavar="DEV,DEV,...",
    help="Train independent experts at the same time, one process per device (cuda:0,cuda:1); the rest runs on "
    "the first (or --device).",
)
@click.option("--expert", "experts", multiple=True, help="Replace the experts (repeatable; NAME or NAME:MODALITY).")
@click.option("--spotter", help="Replace the spotter.")
@click.option("--decoder", help="Replace the decoder.")
@click.option(
    "--workers", type=click.IntRange(min=0), help="Preprocessing processes (default 0: the cores this process may use)."
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="torch and OpenCV threads (default: the cores this process may use: CPU affinity / cgroup quota).",
)
@click.option(
    "--on-bad-video",
    type=click.Choice(["skip", "fail"]),
    help="A video that cannot be read: fail (default; the error names it) or skip (warn, and leave it "
    "out of every stage). Same as --set preprocess.on_bad_video=...",
)
@click.option(
    "--on-bad-annotation",
    type=click.Choice(["fail", "clip"]),
    help="A sign ending after its video, or a video of a labelled split without ground truth: fail (default; the "
    "error names the file, the video and the sign) or clip (warn, clip the sign). Same as --set "
    "dataset.on_bad_annotation=...",
)
@click.option("--no-track", is_flag=True, help="Do not track the run (no MLflow run, no tracker is asked).")
@click.option(
    "--allow-untracked",
    is_flag=True,
    help="Go on untracked when the tracking server cannot be reached (default: fail).",
)
@click.option("--run-name", help="Name of the tracked run.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print a machine-readable summary (run_id, f1, precision, recall, seconds)."
)
@no_progress_option
@click.pass_context
def run_cmd(ctx, name, sets, experts, spotter, decoder, dataset_name, data_path, devices, as_json, no_progress, **rest):
    """Run benchmark NAME (default reference-mssl), or an ad-hoc combination of components.

    \b
    bench run reference-mssl
    bench run reference-mssl --profile tiny --set spotter.training.epochs=5
    bench run --expert p3d --spotter conv-bilstm --decoder vote
    bench run reference-mssl --data /path/to/MSSL
    """
    from benchmark.config.loading import DEFAULT_BENCHMARK, benchmark_registry
    from benchmark.config.overrides import Swaps
    from benchmark.stages.run import run_benchmark

    on_bad_video, on_bad_annotation = rest.pop("on_bad_video"), rest.pop("on_bad_annotation")
    if on_bad_video:
        sets = (*sets, f"preprocess.on_bad_video={on_bad_video}")
    if on_bad_annotation:
        sets = (*sets, f"dataset.on_bad_annotation={on_bad_annotation}")
    summary = run_benchmark(
        registry=benchmark_registry(ctx.obj.get("registries", [])),
        name=name or DEFAULT_BENCHMARK,
        sets=list(sets),
        swaps=Swaps(tuple(experts), spotter, decoder, dataset_name, data_path),
        cache_dir=ctx.obj.get("cache_dir"),
        progress=not no_progress and not as_json,
        track=not rest.pop("no_track"),
        echo=lambda m: click.echo(m, err=True),
        devices=[devices] if devices else (),
        **rest,  # profile, seed, device, workers, threads, run_name, allow_untracked: as run_benchmark names them
    )
    if as_json:
        click.echo(json.dumps(json_summary(summary), indent=2, ensure_ascii=False))
    else:
        print_summary(summary)


def json_summary(summary: dict) -> dict:
    """What ``--json`` prints: the headline figures, every ``f1_iou_*`` and ``tal-map.*``, where things are."""
    out = {k: summary.get(k) for k in JSON_KEYS}
    out.update({k: v for k, v in summary.items() if k.startswith("f1_iou_")})
    out.update({k: v for k, v in summary.items() if k.startswith("tal-map.")})
    out["output_dir"] = summary.get("output_dir")
    out["pipeline"] = summary.get("pipeline")
    out["reused"] = summary.get("reused", [])
    out["computed"] = summary.get("computed", [])
    out["expectation"] = summary.get("expectation")
    out["within_expectation"] = summary.get("within_expectation")
    return out


def print_summary(summary: dict) -> None:
    """The run's result for a person: F1 first, then where to look (tracker links, outputs, trained pipeline)."""
    click.echo("")
    click.secho(
        f"F1 {summary['f1']:.4f}   precision {summary['precision']:.4f}   recall {summary['recall']:.4f}"
        f"   ({summary['eval_split']} split, {summary['seconds']:.0f} s)",
        bold=True,
    )
    if summary.get("f1_ci"):
        low, high = summary["f1_ci"]
        videos = f" {int(summary['num_videos'])}" if summary.get("num_videos") else ""
        click.echo(f"95 % CI of F1 [{low:.3f}, {high:.3f}] (bootstrap over the{videos} {summary['eval_split']} videos)")
    if summary.get("val_f1") is not None:
        click.echo(f"validation F1 {summary['val_f1']:.4f} (the split the spotter's epoch was chosen on)")
    if summary.get("expectation"):
        inside = summary.get("within_expectation")
        verdict = "" if inside is None else (": inside that interval" if inside else ": OUTSIDE that interval")
        click.echo(f"{summary['expectation']}, got {summary['f1']:.3f}{verdict}")
    if "tal-map.map" in summary:
        click.echo(
            f"tal-map mAP {summary['tal-map.map']:.4f} (tIoU 0.3:0.1:0.7), mAP@0.5 {summary['tal-map.map@0.5']:.4f}"
        )
    for label, link in (summary.get("links") or {}).items():
        click.echo(f"{label}: {link}")
    if not summary.get("links"):
        click.echo("not tracked (no tracker plugin recorded this run; see the warnings above)")
    click.echo(f"outputs: {summary['output_dir']}")
    if summary.get("pipeline"):
        target = summary.get("run_id") or summary["output_dir"]
        click.echo(f"trained pipeline: {summary['pipeline']} (`bench spot --run {target} VIDEO... --out DIR`)")
