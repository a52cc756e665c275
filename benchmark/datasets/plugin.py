"""Built-in dataset plugin: ``chalearn-mssl``, ``elan`` and ``synthetic`` datasets, the one-shot track's
``chalearn-oslwl`` and ``synthetic-oslwl``, and the ``bench data`` commands.

Cheap to import: the dataset classes import numpy / OpenCV / pose-format only when a dataset is opened.
"""

from __future__ import annotations

from benchmark import hookimpl
from benchmark.datasets.chalearn import ChalearnMSSL
from benchmark.datasets.elan import ElanCorpus
from benchmark.datasets.oslwl import ChalearnOSLWL
from benchmark.datasets.synthetic import SyntheticDataset
from benchmark.datasets.synthetic.oslwl_dataset import SyntheticOSLWL


@hookimpl
def register_datasets(registry):
    registry.add(ChalearnMSSL.name, ChalearnMSSL)
    registry.add(ElanCorpus.name, ElanCorpus)
    registry.add(SyntheticDataset.name, SyntheticDataset)
    registry.add(ChalearnOSLWL.name, ChalearnOSLWL)
    registry.add(SyntheticOSLWL.name, SyntheticOSLWL)


@hookimpl
def register_commands(cli):
    from benchmark.commands.data import data

    cli.add_command(data)
