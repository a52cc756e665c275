"""``bench perf``: measure each stage on this machine and print a table (``--json`` every row, ``--log`` to MLflow).

The figures are also kept under the cache (:func:`benchmark.perf.measure.save_figures`) for ``bench doctor``.
"""

from __future__ import annotations

import click

from benchmark.perf.measure import MEASURES  # light: the measurements import their libraries when run

PARTS = tuple(MEASURES)
SIZE_NAMES = ("tiny", "cpu", "reference")


@click.command("perf")
@click.argument("parts", nargs=-1, type=click.Choice(PARTS + ("all",)))
@click.option("--log", "log_mlflow", is_flag=True, help="Log the figures to MLflow (experiment `bench-perf`).")
@click.option("--quick", is_flag=True, help="Smallest sizes (a smoke test of the benchmark itself).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N (experts, spotter).")
@click.option(
    "--size",
    "sizes",
    multiple=True,
    type=click.Choice(SIZE_NAMES),
    help="Expert sizes (repeatable): reference = the paper's (224 px, full width, P3D-199), cpu = the cpu "
    "profile's, tiny = the tests'. Default: reference and cpu on a GPU, cpu on a CPU, tiny with --quick.",
)
@click.option(
    "--expert",
    "experts",
    multiple=True,
    help="Measure only these experts (repeatable; any registered one, a plugin's too; default: the built-in ones).",
)
@click.option("--peak-tflops", type=click.FloatRange(min=0, min_open=True), help="The device's bf16 peak, TFLOP/s.")
@click.option("--entry", default="reference-mssl", show_default=True, help="The entry `scale` runs (tiny profile).")
@click.option("--estimate", "show_estimate", is_flag=True, help="How long the paper's settings take on MSSL here.")
@click.option(
    "--gt",
    "gt_path",
    type=click.Path(exists=True, dir_okay=False),
    help="MSSL_TRAIN_SET_GT.pkl: count the query-sign share of clips for --estimate (default: the share counted "
    "from it once, in benchmark/perf/estimate.py).",
)
@click.option("--json", "as_json", is_flag=True, help="Print every row, the device and the estimate as JSON.")
@click.pass_context
def perf(ctx, parts, log_mlflow, quick, device, sizes, experts, peak_tflops, entry, show_estimate, gt_path, as_json):
    """Measure preprocessing frames/s per modality (1 and all workers), expert training and extraction clips/s
    with FLOPs, TFLOP/s, share of the bf16 peak and peak memory, spotter training clips/s, decode + score time
    for 100 hours of clips; `scale` runs the pipeline on 6, 24 and 96 synthetic videos (only when named)."""
    import json

    from benchmark.perf.measure import Options, measure
    from benchmark.runtime.torch_setup import choose_device

    device = choose_device(device)
    options = Options(
        quick=quick,
        device=device,
        sizes=tuple(sizes) or None,
        experts=tuple(experts) or None,
        peak_tflops=peak_tflops,
        entry=entry,
    )
    rows = measure(set(parts or ("all",)), quick=quick, echo=lambda m: click.echo(m, err=True), options=options)
    info = device_info(device, peak_tflops)
    figures_file, saved = _save(ctx, device, rows, info)
    result = {"device": info, "rows": rows, "figures_file": str(figures_file) if figures_file else None}
    if show_estimate:
        result["estimate"] = mssl_estimate(saved["rows"] if saved else rows, gt_path)
    if as_json:
        from benchmark.storage.jsonable import jsonable

        click.echo(json.dumps(jsonable(result), indent=2, ensure_ascii=False))
    else:
        _print_tables(rows, info, result.get("estimate"))
    if log_mlflow:
        from benchmark.perf.measure import log_to_mlflow

        run_id = log_to_mlflow([r for r in rows if isinstance(r.get("value"), (int, float))])
        click.echo(f"logged to MLflow run {run_id} (experiment bench-perf)")


def device_info(device: str, peak_tflops: float | None) -> dict:
    """The device the figures are of: its name, kind, bf16 peak and where the peak comes from, torch's version."""
    import torch

    from benchmark.perf.flops import device_peak
    from benchmark.runtime.cpus import available_cores

    return {
        "device": device,
        "kind": "cuda" if device.startswith("cuda") else "cpu",
        **device_peak(device, peak_tflops),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cores": available_cores(),
    }


def mssl_estimate(rows: list[dict], gt_path: str | None = None) -> dict:
    """The paper's full run on MSSL at the figures in ``rows`` (the paper's model sizes when measured)."""
    from benchmark.perf import estimate as est
    from benchmark.plugins import get_plugin_manager

    config = get_plugin_manager().components("benchmark").resolve("reference-mssl").config
    fraction = est.MSSL_QUERY_FRACTION
    if gt_path:
        from benchmark.engine.clips import ClipSpec
        from benchmark.storage.safe_pickle import load_annotations

        frames = est.MSSL_HOURS * 3600 * est.FPS * est.MSSL_TRAIN_VIDEOS / (est.MSSL_TRAIN_VIDEOS + est.MSSL_VAL_VIDEOS)
        counted = est.query_sign_fraction(load_annotations(gt_path), ClipSpec.from_settings(config["clips"]), frames)
        fraction = counted["fraction"]
    sizes = [r["size"] for r in rows if r.get("part") == "experts"]
    size = "reference" if "reference" in sizes else (sizes[0] if sizes else "reference")
    result = est.estimate(est.mssl_workload(config, fraction), est.figures_from_rows(rows, size))
    result["query_fraction"] = fraction
    result["device"] = next((r.get("device") for r in rows if r.get("part") == "experts"), None)
    return result


def _save(ctx, device: str, rows: list[dict], info: dict):
    """Keep the figures under the cache; a cache that cannot be written is a warning here, not a failure."""
    from benchmark.perf.measure import load_figures, save_figures
    from benchmark.storage.cache import default_cache_dir

    root_obj = ctx.find_root().obj or {}
    root = root_obj.get("cache_dir") or default_cache_dir()
    if not rows:
        return None, None
    try:
        path = save_figures(root, device, rows, info)
    except Exception as exc:  # an unwritable cache must not lose the figures just measured
        click.echo(f"warning: could not keep the figures under {root}: {exc}", err=True)
        return None, None
    return path, load_figures(root, device)


def _print_tables(rows: list[dict], info: dict, estimate: dict | None) -> None:
    main = [r for r in rows if r.get("kind") not in ("stage",)]
    width = max((len(r["what"]) for r in main), default=10)
    click.echo(f"{'measure':<{width}}  {'value':>12}  unit")
    for r in main:
        value = r["value"]
        shown = f"{value:>12.2f}" if isinstance(value, (int, float)) else f"{'-':>12}"
        click.echo(f"{r['what']:<{width}}  {shown}  {r['unit']}")
    expert_rows = [r for r in rows if r.get("part") == "experts"]
    if expert_rows:
        from benchmark.perf.experts import format_rows

        peak = info.get("peak_tflops")
        click.echo(
            f"\nexperts on {info['device_name']}: "
            + (f"bf16 peak {peak:g} TFLOP/s ({info['peak_source']})" if peak else f"{info['peak_source']}")
            + f"\nFLOPs counted (2 per multiply-add); peak MB: {expert_rows[0].get('memory_kind', '')}"
        )
        click.echo(format_rows(expert_rows))
    from benchmark.perf.measure import side_by_side

    table = side_by_side(rows)
    if table:
        click.echo(
            "\npreprocessing, side by side (each modality excludes what it requires; with several"
            "\nworkers it includes the process pool's start-up, which dominates the cheap ones)"
        )
        click.echo(table)
    scale_runs = [r for r in rows if r.get("part") == "scale" and r.get("kind") == "run"]
    if scale_runs:
        from benchmark.perf.scale import format_scale

        stages = [r for r in rows if r.get("part") == "scale" and r.get("kind") == "stage"]
        runs = [{**r, "stages": [s for s in stages if s["videos"] == r["videos"]]} for r in scale_runs]
        fits = [r for r in rows if r.get("part") == "scale" and r.get("kind") == "fit"]
        from benchmark.perf.estimate import FPS, MSSL_HOURS

        click.echo("\nscale: seconds and peak memory per stage")
        click.echo(format_scale({"runs": runs, "fits": fits, "project_frames": MSSL_HOURS * 3600 * FPS}))
    if estimate:
        from benchmark.perf.estimate import format_estimate

        size = estimate.get("size")
        note = "" if size == "reference" else f" (figures at size {size}: not the paper's model sizes)"
        click.echo("")
        click.echo(
            format_estimate(
                estimate, f"the paper's settings on MSSL on {estimate.get('device') or 'this device'}{note}"
            )
        )
