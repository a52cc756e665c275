"""``bench perf``: throughput of every stage on this machine, measured side by side in one process.

``cli`` (the command), ``measure`` (what runs, in which order, and the tables), one module per stage measured
(``preprocess``, ``experts``, ``spotters``: training, decoding and scoring) and ``timing`` (the one way a
step is timed, CUDA-synchronised).
"""
