"""Peak memory, the one way ``bench perf`` reads it: the CUDA allocator's peak on a GPU (what a model needs of
the device), the process's peak resident set on a CPU (what it needs of the machine), and the resident set of a
whole process tree now (a run and its preprocessing workers, sampled from outside by ``bench perf scale``).

The CPU figure is the process's peak since it started, so it only grows: a row reports the largest of all the
rows measured before it in the same process.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path


def reset_peak(device: str) -> None:
    """Start a new peak on CUDA (a CPU process peak cannot be reset)."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(torch.device(device))


def peak(device: str) -> dict:
    """``{"peak_memory_mb", "memory_kind"}``: CUDA ``max_memory_allocated`` since :func:`reset_peak`, or this
    process's peak RSS."""
    if str(device).startswith("cuda"):
        import torch

        return {
            "peak_memory_mb": round(torch.cuda.max_memory_allocated(torch.device(device)) / 2**20, 1),
            "memory_kind": "cuda max_memory_allocated",
        }
    return {"peak_memory_mb": round(peak_rss_bytes() / 2**20, 1), "memory_kind": "process peak RSS"}


def peak_rss_bytes(who: int = resource.RUSAGE_SELF) -> int:
    """Peak resident set of this process (``RUSAGE_SELF``) or of its largest waited-for child, in bytes."""
    return maxrss_bytes(resource.getrusage(who))


def maxrss_bytes(usage) -> int:
    """``ru_maxrss`` in bytes (Linux reports KiB, macOS bytes)."""
    import sys

    return int(usage.ru_maxrss) * (1 if sys.platform == "darwin" else 1024)


def tree_rss_bytes(pid: int, proc: Path = Path("/proc")) -> int:
    """Resident set of process ``pid`` and all its descendants now, in bytes (Linux ``/proc``; 0 elsewhere or
    when ``pid`` has exited)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    try:
        entries = [p for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return 0
    for entry in entries:
        try:
            stat = (entry / "stat").read_text()
            resident = int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
        ppid = int(stat.rpartition(")")[2].split()[1])  # after the command name, which may hold spaces
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = resident * page
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total
