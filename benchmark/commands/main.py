"""The ``bench`` group: its global options, and where each subcommand comes from.

Every command lives in its own module of :mod:`benchmark.commands`.  ``list``, ``plugins``, ``show``, ``run`` and
``cache`` are added here directly (their modules import only click); the others are in :data:`LAZY_COMMANDS`,
imported when invoked, and plugins add theirs with the ``register_commands`` hook.  Heavy libraries (torch,
mediapipe, mlflow) are imported only inside commands, so ``bench --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from benchmark import __version__
from benchmark.commands.cache import cache_group
from benchmark.commands.listing import list_cmd, plugins_cmd, show_cmd
from benchmark.commands.run import run_cmd

ENV_REGISTRY = "SIGNSPOT_REGISTRY"

# core commands that live in their own modules, imported only when invoked (keeps `bench --help` fast)
LAZY_COMMANDS = {
    "score": (
        "benchmark.commands.score",
        "score",
        "Score predictions against ground truth (official F1): pickles, or folders of ELAN files.",
    ),
    "compare": (
        "benchmark.commands.compare",
        "compare",
        "Tracked runs of a benchmark side by side, best F1 first (MLflow).",
    ),
    "perf": ("benchmark.commands.perf", "perf", "Measure every stage's speed on this machine."),
    "doctor": (
        "benchmark.commands.doctor",
        "doctor",
        "What this machine can run, and whether `bench run reference-mssl` will work here.",
    ),
    "spot": (
        "benchmark.commands.spot",
        "spot_command",
        "Spot signs in new videos or .pose files with a finished run's trained pipeline (ELAN, JSON, CSV).",
    ),
    "lookup": (
        "benchmark.commands.lookup",
        "lookup_command",
        "Find signs given one example each (query by example) in videos or .pose files; no training.",
    ),
    "sweep": (
        "benchmark.commands.sweep",
        "sweep",
        "A grid of configurations x seeds as one experiment: shared stages once, local or on Ray.",
    ),
    "review": (
        "benchmark.commands.review",
        "review",
        "A static HTML page (or subtitles) to look through spotted signs: timelines, a table, the video.",
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


for _command in (list_cmd, plugins_cmd, show_cmd, run_cmd, cache_group):
    cli.add_command(_command)


def main(argv=None):
    from benchmark.errors import terminate_on_sigterm

    terminate_on_sigterm()
    return cli.main(args=argv, prog_name="bench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
