"""``bench doctor``: one screen on what this machine can run; exit 1 when ``bench run reference-mssl`` cannot work.

The checks are :mod:`benchmark.runtime.doctor`'s; this module prints them.
"""

from __future__ import annotations

import click


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.option("--device", help="What `bench run --device DEVICE` would do (default: the entry's, auto).")
@click.pass_context
def doctor(ctx, as_json, device):
    """What this machine can run: torch/CUDA, GPUs, cores, MediaPipe models, OpenCV TV-L1, Ray, MLflow, the
    cache, pretrained weights, and what `bench run reference-mssl` will do here (exit 1 when it cannot work)."""
    import json

    from benchmark.config.loading import DEFAULT_BENCHMARK, benchmark_registry
    from benchmark.plugins import get_plugin_manager
    from benchmark.runtime.doctor import gather
    from benchmark.storage.jsonable import jsonable

    obj = ctx.find_root().obj or {}
    registry = benchmark_registry(obj.get("registries", []))
    report = gather(registry, get_plugin_manager(), DEFAULT_BENCHMARK, obj.get("cache_dir"), device)
    if as_json:
        click.echo(json.dumps(jsonable(report), indent=2, default=str, ensure_ascii=False))
    else:
        colours = {"ok": "green", "info": None, "warn": "yellow", "fail": "red"}
        click.secho(f"signspot-bench doctor (python {report['python']}, {report['machine']})", bold=True)
        for c in report["checks"]:
            status = click.style(f"{c['status']:<5}", fg=colours[c["status"]])
            click.echo(f"  {status} {c['name']:<12} {c['summary']}")
        verdict = "the default run can work here" if report["ok"] else "the default run cannot work here: see fail"
        click.secho(verdict, fg="green" if report["ok"] else "red")
    ctx.exit(0 if report["ok"] else 1)
