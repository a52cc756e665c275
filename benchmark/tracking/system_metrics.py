"""A run's CPU, memory, disk, network and GPU use, sampled by MLflow's own monitor onto the parent run.

MLflow's :class:`~mlflow.system_metrics.system_metrics_monitor.SystemMetricsMonitor` samples on a thread
and logs ``system/*`` metrics every :data:`INTERVAL_S` seconds (``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL``
overrides it), shown in the run page's "System metrics" tab.  A run shorter than one interval logs nothing,
so only long runs carry them.  It needs ``psutil``; GPUs also ``nvidia-ml-py`` (``pynvml``).  Without them
it stays off with one line saying what to install; ``SIGNSPOT_SYSTEM_METRICS=0`` switches it off.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

log = logging.getLogger(__name__)

ENV = "SIGNSPOT_SYSTEM_METRICS"
INTERVAL_S = 10.0
_said_missing: list[bool] = []


def start(run_id: str, tracking_uri: str) -> Any | None:
    """Start sampling onto ``run_id``; the monitor (for :func:`stop`), or None when it cannot run here."""
    if importlib.util.find_spec("psutil") is None:
        if not _said_missing:
            log.info("system metrics (CPU/GPU/memory) are not logged: install psutil (and nvidia-ml-py for GPUs)")
            _said_missing.append(True)
        return None
    # MLflow says "started/stopped monitoring" and "skip GPU metrics" at INFO: lines through the progress bars
    logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    monitor = SystemMetricsMonitor(run_id, sampling_interval=INTERVAL_S, tracking_uri=tracking_uri)
    monitor.start()
    return monitor


def stop(monitor: Any | None) -> None:
    """Stop sampling and send what is buffered (before the run is ended)."""
    if monitor is not None:
        monitor.finish()
