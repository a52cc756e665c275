"""Runs left RUNNING by a process that was killed (``kill -9``, an out-of-memory kill, a lost node) are closed by
the next ``bench`` start that looks at the same experiment: a run records its host and process id as tags
(``signspot.host``, ``signspot.pid``), and a RUNNING run of this host whose process is gone ends FAILED, with a
tag saying why; its still-open nested runs end with it.  Runs of other hosts are left alone (their process
cannot be checked from here).
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

log = logging.getLogger(__name__)

REASON_TAG = "signspot.closed_because"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def close_orphans(client: Any, experiment_ids: list[str]) -> list[str]:
    """End FAILED every RUNNING run of ``experiment_ids`` whose process on this host is gone; their ids."""
    if not experiment_ids:
        return []
    host = socket.gethostname()
    closed = []
    running = client.search_runs(experiment_ids, "attributes.status = 'RUNNING'", max_results=5000)
    for run in running:
        tags = run.data.tags
        if tags.get("signspot.host") != host or not str(tags.get("signspot.pid", "")).isdigit():
            continue
        pid = int(tags["signspot.pid"])
        if pid == os.getpid() or alive(pid):
            continue
        why = f"its process {pid} on {host} ended without closing it (killed?); closed by a later bench start"
        _close(client, run.info.run_id, run.info.experiment_id, why)
        closed.append(run.info.run_id)
    if closed:
        log.warning("closed %d run(s) left RUNNING by processes that are gone: %s", len(closed), ", ".join(closed))
    return closed


def _close(client: Any, run_id: str, experiment_id: str, why: str) -> None:
    for child in client.search_runs(
        [experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}' and attributes.status = 'RUNNING'", max_results=5000
    ):
        _close(client, child.info.run_id, experiment_id, why)
    client.set_tag(run_id, REASON_TAG, why)
    client.set_tag(run_id, "error", f"orphaned: {why}")
    client.set_terminated(run_id, "FAILED")
