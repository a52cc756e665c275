"""``bench sweep``: a grid of configurations and seeds as one experiment, shared stages computed once."""

from __future__ import annotations

import json

import click

from benchmark.commands.options import no_progress_option, run_options
from benchmark.errors import BenchError

TRIAL_KEYS = ("config", "seed", "f1", "f1_ci", "status", "run_id", "computed", "reused", "node", "error", "seconds")


@click.command("sweep")
@click.argument("name")
@click.option(
    "--grid",
    "grids",
    multiple=True,
    metavar="AXIS=V1,V2",
    help="An axis and its values (repeatable): spotter=conv-bilstm,tcn; decoder=vote,argmax; "
    "experts=rgb+skeleton,skeleton; spotter.training.lr=1e-4,1e-3. Adds to (or replaces) a "
    "declared sweep's axes.",
)
@click.option("--seeds", help="Comma-separated seeds (default: the sweep's, else 0).")
@click.option(
    "--seed-scope",
    type=click.Choice(["spotter", "run"]),
    help="What the seeds vary: spotter (spotter.training.seed; expert features shared, the default) "
    "or run (the whole run's seed: experts re-trained per seed).",
)
@run_options
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: on this machine (--jobs trials at once); ray: tasks on a Ray cluster (--address joins "
    "one, otherwise a local one is started).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Tasks at once with --executor local (each gets its share of the cores).",
)
@click.option(
    "--address",
    help="Ray cluster to join (e.g. ray://head:10001 or auto); needs a shared cache and "
    "an MLflow server (see --cache-shared).",
)
@click.option(
    "--cpus-per-trial",
    type=click.FloatRange(min=0, min_open=True),
    help="CPUs (torch threads) per task. Default: local, the cores this process may use / --jobs; ray, 1.",
)
@click.option(
    "--gpus-per-trial",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="GPUs per task that trains or runs a model (ray).",
)
@click.option(
    "--cache-shared",
    is_flag=True,
    help="The cache directory is reachable by every node of the cluster (an NFS mount...).",
)
@click.option("--dry-run", is_flag=True, help="Print the trials and which stages each computes or reuses; run nothing.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"sweep_run_id", "trials": [{"config", "seed", "f1", "status", "run_id", "computed", '
    '"reused"}], "table": [...]}.',
)
@no_progress_option
@click.pass_context
def sweep(ctx, name, grids, sets, dataset_name, dry_run, as_json, no_progress, **rest):
    """Run sweep NAME (declared in a registry's `sweeps:`), or an ad-hoc grid over benchmark NAME.

    \b
    bench sweep reference-mssl-spotters
    bench sweep reference-mssl --grid spotter=conv-bilstm,tcn --grid decoder=vote,argmax --seeds 0,1,2
    bench sweep reference-mssl --profile tiny --grid spotter=conv-bilstm,tcn --seeds 0,1 --executor ray
    """
    from benchmark.config.loading import benchmark_registry
    from benchmark.sweep.main import SweepOptions, sweep_main

    options = SweepOptions(
        name=name,
        grids=tuple(grids),
        sets=tuple(sets),
        dataset=dataset_name,
        progress=not no_progress and not as_json,
        **rest,  # seeds, seed_scope, profile, data_path, device, executor, jobs, address, cpus/gpus_per_trial...
    )
    registry = benchmark_registry(ctx.obj.get("registries", []))
    echo = lambda m: click.echo(m, err=True)
    outcome = sweep_main(registry, options, cache_dir=ctx.obj.get("cache_dir"), dry_run=dry_run, echo=echo)
    if dry_run:
        click.echo(outcome)
    elif as_json:
        click.echo(json.dumps(json_outcome(outcome), indent=2, default=str, ensure_ascii=False))
    else:
        print_outcome(outcome)


def json_outcome(outcome) -> dict:
    """What ``--json`` prints: the sweep's run, every trial (:data:`TRIAL_KEYS`) and the table."""
    return {
        "sweep_run_id": outcome.run_id,
        "trials": [{k: t.get(k) for k in TRIAL_KEYS} for t in outcome.trials],
        "table": outcome.table,
        "output_dir": str(outcome.output_dir),
        "seconds": outcome.seconds,
    }


def print_outcome(outcome) -> None:
    """The table for a person, each failed trial's error, where to look; an error when every trial failed."""
    from benchmark.sweep.results import format_table

    click.echo("")
    click.echo(format_table(outcome.table))
    failed = [t for t in outcome.trials if t["status"] != "FINISHED"]
    for t in failed:
        click.echo(f"FAILED {t['config']} seed={t['seed']}: {t.get('error')}")
    for label, link in outcome.links.items():
        click.echo(f"{label}: {link}")
    click.echo(f"outputs: {outcome.output_dir} ({outcome.seconds:.0f} s)")
    if failed and len(failed) == len(outcome.trials):
        raise BenchError("every trial failed")
