"""``bench compare [BENCHMARK]``: tracked runs side by side, best F1 first, or a sweep's table (``--sweep``).

Reading the runs is :mod:`benchmark.tracking.compare`'s job; this module only prints them.
"""

from __future__ import annotations

import json

import click


@click.command("compare")
@click.argument("benchmark", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON list.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the N best runs only.")
@click.option(
    "--sweep", "sweep_run", metavar="RUN_ID", help="The table of a sweep (its run id), from its trials' runs."
)
def compare(benchmark: str | None, as_json: bool, limit: int | None, sweep_run: str | None) -> None:
    """Compare the MLflow runs of BENCHMARK (all benchmarks if omitted), best F1 first; or a sweep's table."""
    from benchmark.tracking.compare import collect_runs, format_table, sweep_table

    if sweep_run:
        from benchmark.sweep.results import format_table as sweep_format

        rows, trials, uri = sweep_table(sweep_run)
        if as_json:
            click.echo(
                json.dumps({"sweep_run_id": sweep_run, "trials": trials, "table": rows}, indent=2, ensure_ascii=False)
            )
            return
        click.echo(f"sweep {sweep_run} in {uri}: {len(trials)} trial(s)")
        click.echo(sweep_format(rows))
        return
    rows, uri = collect_runs(benchmark, limit)
    if not rows:
        what = f"benchmark {benchmark}" if benchmark else "any benchmark"
        hint = f"bench run {benchmark}" if benchmark else "bench run reference-mssl"
        msg = f"no runs for {what} in {uri}; run `{hint}` first"
        if as_json:
            click.echo("[]")
            click.echo(msg, err=True)
        else:
            click.echo(msg)
        return
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    scope = f"benchmark {benchmark}" if benchmark else "all benchmarks"
    click.echo(f"{len(rows)} run(s) of {scope} in {uri}, best F1 first:")
    click.echo(format_table(rows, with_benchmark=not benchmark))
    failed = [r for r in rows if r["status"] == "FAILED" and r.get("error")]
    for r in failed[:5]:
        click.echo(f"  {r['run_id'][:8]} failed: {r['error'].splitlines()[0][:200]}")
