"""Datasets: the ChaLearn MSSL folder layout (``chalearn.py``), ELAN corpora (``elan/``), what a folder read
holds and ground-truth validation (``records.py``), settings checked outside a run (``settings.py``), the
embedded synthetic signer (``synthetic/``), the generic ``bench data check`` report (``check.py``; each
dataset's :meth:`~benchmark.interfaces.Dataset.check`) and the plugin registering them (``plugin.py``)."""
