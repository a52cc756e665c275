"""``bench perf``: measure each stage on this machine and print a table (``--log`` sends it to MLflow)."""

from __future__ import annotations

import click

from benchmark.perf.measure import MEASURES  # light: the measurements import their libraries when run

PARTS = tuple(MEASURES)


@click.command("perf")
@click.argument("parts", nargs=-1, type=click.Choice(PARTS + ("all",)))
@click.option("--log", "log_mlflow", is_flag=True, help="Log the figures to MLflow (experiment `bench-perf`).")
@click.option("--quick", is_flag=True, help="Smallest sizes (a smoke test of the benchmark itself).")
def perf(parts, log_mlflow, quick):
    """Measure preprocessing frames/s per modality (1 and all workers), expert training and extraction
    clips/s, spotter training clips/s, and decode + score time for 100 hours of clips."""
    from benchmark.perf.measure import measure

    rows = measure(set(parts or ("all",)), quick=quick, echo=lambda m: click.echo(m, err=True))
    width = max((len(r["what"]) for r in rows), default=10)
    click.echo(f"{'measure':<{width}}  {'value':>12}  unit")
    for r in rows:
        click.echo(f"{r['what']:<{width}}  {r['value']:>12.2f}  {r['unit']}")
    from benchmark.perf.measure import side_by_side

    table = side_by_side(rows)
    if table:
        click.echo(
            "\npreprocessing, side by side (each modality excludes what it requires; with several"
            "\nworkers it includes the process pool's start-up, which dominates the cheap ones)"
        )
        click.echo(table)
    if log_mlflow:
        from benchmark.perf.measure import log_to_mlflow

        run_id = log_to_mlflow(rows)
        click.echo(f"logged to MLflow run {run_id} (experiment bench-perf)")
