"""Built-in dataset plugin: ``chalearn-mssl`` and ``synthetic`` datasets, and the ``bench data`` commands.

Cheap to import: the factories import numpy / OpenCV / pose-format only when called.
"""
from __future__ import annotations

from benchmark import hookimpl


def chalearn_factory(root, settings, cache_dir):
    from benchmark.datasets.chalearn import factory

    return factory(root, settings, cache_dir)


def synthetic_factory(root, settings, cache_dir):
    from benchmark.datasets.synthetic import factory

    return factory(root, settings, cache_dir)


chalearn_factory.description = "ChaLearn MSSL challenge folder (videos and/or .pose files, GT pickles or txt)"
synthetic_factory.description = "embedded synthetic signer in the MSSL layout, generated on first use (settings: videos, classes, signers, seconds, size, seed)"


@hookimpl
def register_datasets(registry):
    registry.add("chalearn-mssl", chalearn_factory, description=chalearn_factory.description)
    registry.add("synthetic", synthetic_factory, description=synthetic_factory.description)


@hookimpl
def register_commands(cli):
    from benchmark.datasets.cli import data

    cli.add_command(data)
