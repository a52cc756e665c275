"""``bench compare [BENCHMARK]``: tracked runs side by side, best F1 first, or a sweep's table (``--sweep``);
``bench compare A B``: two runs or entries paired on their test videos, with a verdict.

Reading the runs is :mod:`benchmark.tracking.compare`'s job and pairing two of them
:mod:`benchmark.reports.comparison`'s; this module only prints them.
"""

from __future__ import annotations

import json

import click


@click.command("compare")
@click.argument("names", nargs=-1, metavar="[BENCHMARK | A B]")
@click.option("--json", "as_json", is_flag=True, help="Print the runs (or the comparison of A and B) as JSON.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the N best runs only.")
@click.option(
    "--sweep", "sweep_run", metavar="RUN_ID", help="The table of a sweep (its run id), from its trials' runs."
)
@click.option("--force", is_flag=True, help="A B: compare runs on different datasets or entry versions anyway.")
@click.option(
    "--profile", "-p", help="A B given as entries: their runs of this profile (default: of their newest run)."
)
def compare(
    names: tuple[str, ...], as_json: bool, limit: int | None, sweep_run: str | None, force: bool, profile: str | None
) -> None:
    """Compare the MLflow runs of BENCHMARK (all benchmarks if omitted), best F1 first; or a sweep's table;
    or two runs A and B paired on their test videos.

    \b
    bench compare reference-mssl
    bench compare RUN_FOLDER_A RUN_FOLDER_B          two run folders (`bench run` printed them)
    bench compare 3f2a... 9c41...                     two tracked runs, by id
    bench compare reference-mssl reference-mssl-temporalmaxer     two entries: their seed runs, paired
    bench compare reference-mssl skeleton-only --profile cpu       ... their cpu-profile runs
    bench compare --sweep 7d0e... "spotter=tcn" "spotter=conv-bilstm"   two configurations of a sweep

    A B gives each side's F1 with its 95 % interval (bootstrap over the test videos, and over the seeds of an
    entry's runs), the paired difference with its interval and p-value (a randomisation test over videos), a
    verdict ("A better", "B better", "no difference at 95 %") and the classes that differ most.
    """
    if len(names) > 2:
        raise click.UsageError("give at most two names: BENCHMARK, or A B")
    if len(names) == 2:
        return _pair(*names, as_json=as_json, force=force, sweep=sweep_run, profile=profile)
    benchmark = names[0] if names else None
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


def _pair(a: str, b: str, *, as_json: bool, force: bool, sweep: str | None, profile: str | None) -> None:
    from benchmark.reports.comparison import compare as paired
    from benchmark.reports.comparison import format_comparison, load_side, sweep_side

    sides = (sweep_side(sweep, a), sweep_side(sweep, b)) if sweep else (load_side(a, profile), load_side(b, profile))
    result = paired(*sides, force=force)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(format_comparison(result))
