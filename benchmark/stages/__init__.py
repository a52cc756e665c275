"""The stages of a run, one module each, in the order of the graph (:mod:`benchmark.stages.graph`):

``data`` (open the dataset, choose splits) -> ``preprocess`` -> ``experts`` (train + extract, per expert)
-> ``spotter`` (train) -> ``decode`` -> ``score``.

Each stage is a function of a :class:`~benchmark.stages.base.Stages` (the one stage mechanism: cache,
notifications, timing), the records the previous stages handed over (:mod:`benchmark.stages.handoffs`) and the
resolved configuration; each has a ``*_key`` function computing its cache key from the same inputs, and ends
with its ``STAGE_SPEC``, its place in the graph, so a sweep can plan which stages it will compute or reuse
without running them.
"""
