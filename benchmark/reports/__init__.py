"""What a run shows a person: the per-class table and the figures the score stage writes into the run's folder.

* :mod:`benchmark.reports.tables` -- :func:`per_class_table`, one row per class, counts at IoU 0.5 and pooled;
* :mod:`benchmark.reports.figures` -- the F1-by-IoU curve and the per-class F1 bars, colours per class;
* :mod:`benchmark.reports.timelines` -- one video's true and predicted signs, found / missed / false marked.

Counts come from the official scorer (:mod:`benchmark.metrics.chalearn`), so the table adds up to the run's
metrics.  Figures use matplotlib's object API (an Agg canvas, never pyplot's global backend) and are written
atomically.  Cheap to import: numpy and matplotlib are imported by the functions that need them.
"""

IOU = 0.5  # the threshold the table's and the timelines' "at IoU 0.5" columns and marks use
