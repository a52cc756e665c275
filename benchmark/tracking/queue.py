"""Run calls in order on one background thread, so a tracker's slow I/O overlaps with the benchmark.

A tracker's hooks are called on the benchmark's thread; MLflow needs seconds for its import, for opening the
store and for every HTTP round trip.  :class:`CallQueue` lets a hook hand that work off and return at once;
:meth:`CallQueue.flush` waits for it where the result must be complete (a run's end).

The thread is not a daemon: queued calls still finish when the main thread ends without waiting for them,
and they finish before ``atexit`` handlers run (MLflow's lazy imports fail after that).  Once the main thread
has ended and nothing is left to do, ``at_exit`` runs on the worker: the place to close what was left open.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

POLL_S = 0.25  # how often an idle worker checks whether the main thread has ended


class CallQueue:
    """One worker thread, started on the first :meth:`submit`, that runs the submitted calls in order.

    ``asynchronous=False`` runs every call inline instead (``at_exit`` then never runs).  A call that raises is
    logged at debug level and skipped: the calls are expected to guard themselves; the worker must not die.
    """

    def __init__(self, name: str, at_exit: Callable[[], None] | None = None, asynchronous: bool = True) -> None:
        self.name = name
        self.at_exit = at_exit
        self.asynchronous = asynchronous
        self._queue: queue.Queue | None = None  # None while no worker runs
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], None]) -> None:
        """Queue ``call`` for the worker (inline when synchronous, or when no thread can be started any more)."""
        if not self.asynchronous:
            call()
            return
        with self._lock:
            if self._queue is None:
                q: queue.Queue = queue.Queue()
                try:
                    threading.Thread(target=self._work, args=(q,), name=self.name).start()
                except RuntimeError:  # interpreter shutting down: no new threads
                    call()
                    return
                self._queue = q
            self._queue.put(call)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every call submitted so far is done; False if ``timeout`` seconds passed first."""
        with self._lock:
            q = self._queue
        if q is None:
            return True
        done = threading.Event()
        q.put(done.set)
        return done.wait(timeout)

    def _work(self, q: queue.Queue) -> None:
        main = threading.main_thread()
        while True:
            try:
                call = q.get(timeout=POLL_S)
            except queue.Empty:
                if main.is_alive():
                    continue
                with self._lock:
                    if not q.empty():
                        continue
                    self._queue = None  # a later submit starts a new worker (or runs inline)
                if self.at_exit is not None:
                    self._run(self.at_exit)
                return
            self._run(call)

    def _run(self, call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException as exc:  # never let the worker die
            log.debug("%s: queued call failed: %s", self.name, exc)
