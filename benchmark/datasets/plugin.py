"""Built-in dataset plugin: ``chalearn-mssl``, ``elan`` and ``synthetic`` datasets, and the ``bench data`` commands.

Cheap to import: the dataset classes import numpy / OpenCV / pose-format only when a dataset is opened.
"""

from __future__ import annotations

from benchmark import hookimpl
from benchmark.datasets.chalearn import ChalearnMSSL
from benchmark.datasets.elan import ElanCorpus
from benchmark.datasets.synthetic import SyntheticDataset


@hookimpl
def register_datasets(registry):
    registry.add(ChalearnMSSL.name, ChalearnMSSL)
    registry.add(ElanCorpus.name, ElanCorpus)
    registry.add(SyntheticDataset.name, SyntheticDataset)


@hookimpl
def register_commands(cli):
    from benchmark.commands.data import data

    cli.add_command(data)
