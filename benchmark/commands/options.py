"""The options ``bench run`` and ``bench sweep`` share, declared once so their names, defaults and help cannot
drift apart (a sweep's trials are ``bench run``\\ s: the same option must mean the same thing in both)."""

from __future__ import annotations

import click

RUN_OPTIONS = (
    click.option("--profile", "-p", help="Profile overlay. Default: none on a GPU (paper settings), `cpu` otherwise."),
    click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY.PATH=VALUE",
        help="Override a config value (repeatable; a sweep sets it in every trial).",
    ),
    click.option("--device", help="auto (default), cpu, cuda, cuda:N."),
    click.option(
        "--data",
        "data_path",
        type=click.Path(exists=True, file_okay=False),
        help="A dataset folder: the ChaLearn MSSL layout (chalearn-mssl), or --dataset elan for .eaf files beside "
        "media.",
    ),
    click.option("--dataset", "dataset_name", help="Dataset plugin name (default: the entry's)."),
)

# shared too, but last in ``--help`` (after each command's own options)
no_progress_option = click.option("--no-progress", is_flag=True, help="Hide progress bars.")


def run_options(command):
    """Apply :data:`RUN_OPTIONS`, listed in ``--help`` in this order."""
    for option in reversed(RUN_OPTIONS):
        command = option(command)
    return command
