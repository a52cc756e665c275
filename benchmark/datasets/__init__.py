"""Datasets: the ChaLearn MSSL folder layout (``chalearn.py``), ELAN corpora (``elan.py``), ground-truth
validation (``records.py``), the embedded synthetic signer (``synthetic/``), ``bench data check``
(``check.py``) and the CLI (``cli.py``)."""
