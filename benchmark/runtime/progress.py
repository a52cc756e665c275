"""The one progress-bar style of every long loop: ``tqdm.auto`` on stderr, what it counts named (``unit``), a
bar of the current step that disappears when done (``leave=False``, the default) and a bar of a whole
command's work that stays (``leave=True``: preprocessing, a sweep), hidden with ``--no-progress``.

A bar with ``min_items`` hides itself for short loops (hashing a handful of files is not worth a bar)."""

from __future__ import annotations

from collections.abc import Iterable


def bar(
    iterable: Iterable | None = None,
    *,
    desc: str,
    unit: str = "video",
    total: int | None = None,
    enabled: bool = True,
    leave: bool = False,
    initial: int = 0,
    min_items: int = 0,
):
    """A tqdm bar over ``iterable`` (or one updated by hand with ``total``); a no-op bar when not ``enabled``."""
    from tqdm.auto import tqdm

    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    hidden = not enabled or (min_items and total is not None and total < min_items)
    return tqdm(
        iterable,
        desc=desc,
        unit=unit,
        total=total,
        initial=initial,
        leave=leave,
        disable=bool(hidden),
        dynamic_ncols=True,
    )
