"""The ``bench`` command line.  Heavy libraries (torch, mediapipe, mlflow) are imported only inside commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from benchmark import __version__

ENV_REGISTRY = "SIGNSPOT_REGISTRY"
DEFAULT_BENCHMARK = "reference-mssl"
PLURALS = {"modality": "Modalities"}

# core commands that live in their own modules, imported only when invoked (keeps `bench --help` fast)
LAZY_COMMANDS = {
    "score": (
        "benchmark.commands.score",
        "score",
        "Score a predictions pickle against a ground-truth pickle (official F1).",
    ),
    "compare": (
        "benchmark.tracking.compare",
        "compare",
        "Tracked runs of a benchmark side by side, best F1 first (MLflow).",
    ),
    "perf": ("benchmark.commands.perf", "perf", "Measure every stage's speed on this machine."),
    "doctor": (
        "benchmark.runtime.doctor",
        "doctor",
        "What this machine can run, and whether `bench run reference-mssl` will work here.",
    ),
    "spot": (
        "benchmark.spot",
        "spot_command",
        "Spot signs in new videos or .pose files with a finished run's trained pipeline (ELAN, JSON, CSV).",
    ),
    "sweep": (
        "benchmark.commands.sweep",
        "sweep",
        "A grid of configurations x seeds as one experiment: shared stages once, local or on Ray.",
    ),
}


class LazyCommand(click.Command):
    """Stands in for a command whose module is imported only when the command runs."""

    def __init__(self, name, module, attr, short_help):
        super().__init__(name, short_help=short_help, help=short_help)
        self._target = (module, attr)
        self._real_cmd = None

    def real(self) -> click.Command:
        if self._real_cmd is None:
            import importlib

            module, attr = self._target
            self._real_cmd = getattr(importlib.import_module(module), attr)
        return self._real_cmd

    def make_context(self, info_name, args, parent=None, **extra):
        return self.real().make_context(info_name, args, parent=parent, **extra)


class BenchGroup(click.Group):
    """Adds lazily imported core commands and the commands plugins contribute (``register_commands``)."""

    _plugins_loaded = False

    def _load_plugin_commands(self):
        if BenchGroup._plugins_loaded:
            return
        BenchGroup._plugins_loaded = True
        from benchmark.plugins import get_plugin_manager

        get_plugin_manager().register_commands(self)

    def list_commands(self, ctx):
        self._load_plugin_commands()
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS and name not in self.commands:
            self.add_command(LazyCommand(name, *LAZY_COMMANDS[name]), name)
        cmd = super().get_command(ctx, name)
        if cmd is None:
            self._load_plugin_commands()
            cmd = super().get_command(ctx, name)
        return cmd

    def invoke(self, ctx):
        from benchmark.errors import BenchError, Terminated

        try:
            return super().invoke(ctx)
        except BenchError as exc:
            raise click.ClickException(str(exc)) from None
        except Terminated as exc:
            click.echo(f"Error: {exc}; finished stages are cached: run the same command again to resume", err=True)
            ctx.exit(Terminated.exit_code)


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="signspot-bench")
@click.option(
    "--registry",
    "registries",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_REGISTRY,
    help="Extra registry YAML file(s) with benchmark entries (also $SIGNSPOT_REGISTRY, ':'-separated).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SIGNSPOT_CACHE_DIR",
    help="Where stage outputs are cached (default: $SIGNSPOT_CACHE_DIR or ~/.cache/signspot).",
)
@click.option(
    "--verbose",
    is_flag=True,
    envvar="SIGNSPOT_VERBOSE",
    help="Show other libraries' log lines too (MediaPipe/TF Lite start-up, MLflow's model-format warnings).",
)
@click.pass_context
def cli(ctx, registries, cache_dir, verbose):
    """signspot-bench: reproduce, swap and compare sign-spotting pipelines.

    \b
    bench run reference-mssl            the full reference pipeline (embedded synthetic data by default)
    bench run --expert p3d --spotter tcn an ad-hoc combination
    bench list | bench show NAME        benchmark entries and installed components
    bench compare                       every tracked run side by side (MLflow); `mlflow ui` for the UI
    """
    ctx.ensure_object(dict)
    from benchmark.runtime.quiet import set_verbose

    set_verbose(verbose)  # before any command loads MediaPipe or MLflow; worker processes inherit it
    paths = []
    for item in registries:
        paths.extend(Path(p) for p in str(item).split(os.pathsep) if p)
    ctx.obj["registries"] = paths
    ctx.obj["cache_dir"] = cache_dir


def _benchmarks(ctx):
    from benchmark.plugins import get_plugin_manager

    registry = get_plugin_manager().components("benchmark")
    for path in ctx.obj.get("registries", []):
        if path.resolve() not in {Path(s).resolve() for s in registry.sources.values() if not s.startswith("plugin ")}:
            registry.add_file(path)
    return registry


# -- list / plugins / show -------------------------------------------------------------------------------------


@cli.command("list")
@click.pass_context
def list_cmd(ctx):
    """List benchmark entries and installed components by kind."""
    from benchmark.plugins import REGISTRATION_HOOKS, get_plugin_manager

    pm = get_plugin_manager()
    registry = _benchmarks(ctx)
    click.secho("Benchmarks", bold=True)
    for comp in registry.components():
        entry = comp.obj
        try:
            profiles = ", ".join(registry.resolve(comp.name).profiles) or "-"  # inherited through extends too
        except Exception as exc:  # a broken user entry is listed, not fatal
            profiles = f"(invalid: {exc})"
        click.echo(f"  {comp.name:<32} v{entry.get('version', '?'):<4} profiles: {profiles}")
        desc = " ".join(str(entry.get("description", "")).split())
        if desc:
            click.echo(f"      {desc[:100]}{'...' if len(desc) > 100 else ''}")
    for kind in REGISTRATION_HOOKS:
        if kind == "benchmark":
            continue
        reg = pm.components(kind)
        click.secho(PLURALS.get(kind, f"{kind.capitalize()}s"), bold=True)
        for comp in reg.components():
            where = "" if comp.distribution is None else f"  [{comp.distribution}]"
            desc = comp.description if len(comp.description) <= 72 else comp.description[:71].rstrip() + "…"
            click.echo(f"  {comp.name:<24} {desc}{where}")
        if not len(reg):
            click.echo("  (none)")
    broken = pm.broken()
    if broken:
        click.secho(f"{len(broken)} broken plugin(s): see `bench plugins`", fg="red", err=True)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback of broken plugins.")
def plugins_cmd(as_json, verbose):
    """Each plugin: its distribution and version, its hooks and its status (ok / broken: error)."""
    from benchmark.plugins import get_plugin_manager

    pm = get_plugin_manager()
    rows = [
        {
            "name": p.name,
            "distribution": p.distribution or "signspot-bench",
            "version": p.version,
            "builtin": p.builtin,
            "hooks": p.hooks,
            "status": p.status,
            "error": p.error,
        }
        for p in pm.plugins()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for p, row in zip(pm.plugins(), rows):
        status = click.style("ok", fg="green") if not p.error else click.style("BROKEN", fg="red")
        click.echo(f"{row['name']:<30} {row['distribution']} {row['version'] or ''}  {status}")
        if row["hooks"]:
            click.echo(f"    hooks: {', '.join(row['hooks'])}")
        if p.error:
            click.echo(f"    error: {p.error}")
            if verbose and p.traceback:
                click.echo("    " + p.traceback.replace("\n", "\n    "))


@cli.command("show")
@click.argument("name", default=DEFAULT_BENCHMARK)
@click.option("--profile", "-p", help="Apply a named profile overlay (e.g. cpu).")
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a config value (repeatable).")
@click.pass_context
def show_cmd(ctx, name, profile, sets):
    """Print the resolved config of benchmark NAME as YAML."""
    from benchmark.config.entries import dump_yaml

    resolved = _benchmarks(ctx).resolve(name, profile, sets)
    header = f"# {resolved.name} v{resolved.version}" + (f", profile {profile}" if profile else "")
    header += f"  (from {resolved.source}; component settings merged over their defaults)\n"
    header += "".join(f"# note: {note}\n" for note in resolved.notes)
    click.echo(header + dump_yaml(resolved.config))


# -- run ----------------------------------------------------------------------------------------------------


@cli.command("run")
@click.argument("name", required=False)
@click.option("--profile", "-p", help="Profile overlay. Default: none on a GPU (paper settings), `cpu` otherwise.")
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help="Override a config value (repeatable).")
@click.option("--seed", type=int, help="Random seed (default: the entry's, 0).")
@click.option("--device", help="auto (default), cpu, cuda, cuda:N.")
@click.option(
    "--devices",
    metavar="DEV,DEV,...",
    help="Train independent experts at the same time, one process per device (cuda:0,cuda:1); the rest runs on "
    "the first (or --device).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(exists=True, file_okay=False),
    help="A dataset folder: the ChaLearn MSSL layout (chalearn-mssl), or --dataset elan for .eaf files beside media.",
)
@click.option("--dataset", "dataset_name", help="Dataset plugin name (default: the entry's).")
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
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.pass_context
def run_cmd(
    ctx,
    name,
    profile,
    sets,
    seed,
    device,
    devices,
    data_path,
    dataset_name,
    experts,
    spotter,
    decoder,
    workers,
    threads,
    on_bad_video,
    on_bad_annotation,
    no_track,
    allow_untracked,
    run_name,
    as_json,
    no_progress,
):
    """Run benchmark NAME (default reference-mssl), or an ad-hoc combination of components.

    \b
    bench run reference-mssl
    bench run reference-mssl --profile tiny --set spotter.training.epochs=5
    bench run --expert p3d --spotter conv-bilstm --decoder vote
    bench run reference-mssl --data /path/to/MSSL
    """
    from benchmark.config.overrides import Swaps
    from benchmark.stages.run import run_benchmark

    if on_bad_video:
        sets = (*sets, f"preprocess.on_bad_video={on_bad_video}")
    if on_bad_annotation:
        sets = (*sets, f"dataset.on_bad_annotation={on_bad_annotation}")
    swaps = Swaps(tuple(experts), spotter, decoder, dataset_name, data_path)
    summary = run_benchmark(
        registry=_benchmarks(ctx),
        name=name or DEFAULT_BENCHMARK,
        profile=profile,
        sets=list(sets),
        seed=seed,
        device=device,
        swaps=swaps,
        workers=workers,
        threads=threads,
        run_name=run_name,
        cache_dir=ctx.obj.get("cache_dir"),
        progress=not no_progress and not as_json,
        track=not no_track,
        allow_untracked=allow_untracked,
        echo=lambda m: click.echo(m, err=True),
        devices=[devices] if devices else (),
    )
    if as_json:
        keys = ("run_id", "run_name", "f1", "precision", "recall", "seconds", "val_f1")
        out = {k: summary.get(k) for k in keys}
        out.update({k: v for k, v in summary.items() if k.startswith("f1_iou_")})
        out.update({k: v for k, v in summary.items() if k.startswith("tal-map.")})
        out["output_dir"] = summary.get("output_dir")
        out["pipeline"] = summary.get("pipeline")
        out["reused"] = summary.get("reused", [])
        out["computed"] = summary.get("computed", [])
        out["expectation"] = summary.get("expectation")
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    click.echo("")
    click.secho(
        f"F1 {summary['f1']:.4f}   precision {summary['precision']:.4f}   recall {summary['recall']:.4f}"
        f"   ({summary['eval_split']} split, {summary['seconds']:.0f} s)",
        bold=True,
    )
    if summary.get("val_f1") is not None:
        click.echo(f"validation F1 {summary['val_f1']:.4f} (the split the spotter's epoch was chosen on)")
    if summary.get("expectation"):
        click.echo(f"{summary['expectation']}, got {summary['f1']:.3f}")
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


# -- cache ----------------------------------------------------------------------------------------------------


@cli.group("cache")
def cache_group():
    """Inspect or clear the stage cache."""


@cache_group.command("info")
@click.pass_context
def cache_info(ctx):
    """Where the cache lives and how much each stage uses."""
    from benchmark.storage.cache import StageCache

    cache = StageCache(ctx.parent.obj.get("cache_dir") if ctx.parent and ctx.parent.obj else None)
    click.echo(f"cache: {cache.root}")
    for stage, size in cache.usage().items():
        click.echo(f"  {stage:<24} {size / 2**20:10.1f} MiB")


@cache_group.command("clear")
@click.argument("stage", required=False)
@click.confirmation_option(prompt="Delete cached outputs?")
@click.pass_context
def cache_clear(ctx, stage):
    """Delete the whole cache, or one STAGE.

    Stages: preprocess, train-expert, extract-features, train-spotter, decode, sweep-trial, datasets.
    """
    from benchmark.storage.cache import StageCache

    cache = StageCache(ctx.parent.obj.get("cache_dir") if ctx.parent and ctx.parent.obj else None)
    cache.clear(stage)
    click.echo(f"cleared {cache.root / stage if stage else cache.root}")


def main(argv=None):
    from benchmark.errors import terminate_on_sigterm

    terminate_on_sigterm()
    return cli.main(args=argv, prog_name="bench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
