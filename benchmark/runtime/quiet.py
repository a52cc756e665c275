"""Quiet by default: other libraries' start-up chatter kept off the terminal, ``bench --verbose`` shows it.

What a real run printed that was not ours (measured, mediapipe 0.10.14, mlflow 3.18):

* MediaPipe's C++ side, on stderr, when a Holistic graph opens its models (on the first frame, on the graph's
  own threads): ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``, ``WARNING: All log messages
  before absl::InitializeLog() is called are written to STDERR`` and eight ``W0000 ... inference_feedback_
  manager.cc:114] Feedback manager requires a model with a single signature inference...`` per video.  It
  logs with absl, which reads no environment variable (``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL`` are
  set anyway, for builds that use glog/TF logging), and its log functions are not exported to set them from
  Python.  So file descriptor 2 is redirected to a temporary file from the estimator's creation to the end
  of its first frame (:func:`quiet_start`) and what was written is put back, less absl/glog INFO and
  WARNING lines and the two start-up lines above: errors still show.
* MLflow's warning about pickled models (:mod:`benchmark.tracking.models` filters exactly that one).

``SIGNSPOT_VERBOSE=1`` (what ``bench --verbose`` sets, inherited by worker processes) turns all of it off.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import contextmanager, suppress

ENV_VERBOSE = "SIGNSPOT_VERBOSE"

# absl/glog's line prefix: severity, MMDD, time, thread id, file:line]
_NATIVE_LOG = re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_NATIVE_STARTUP = (
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
)


def verbose() -> bool:
    return os.environ.get(ENV_VERBOSE, "").strip().lower() in ("1", "true", "yes", "on")


def set_verbose(on: bool) -> None:
    """``bench --verbose``: for this process and the worker processes it starts."""
    if on:
        os.environ[ENV_VERBOSE] = "1"


def quiet_environment() -> None:
    """Before MediaPipe/TF Lite load (in every process that may load them): their log levels, where they read
    them from the environment; absl's Python logging to errors only."""
    if verbose():
        return
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    absl = sys.modules.get("absl.logging")
    if absl is not None:
        absl.set_verbosity(absl.ERROR)


def is_noise(line: str) -> bool:
    """A native INFO/WARNING line or one of MediaPipe's two start-up lines (errors are never noise)."""
    line = line.rstrip("\r\n")
    return line in _NATIVE_STARTUP or bool(_NATIVE_LOG.match(line))


class NativeStderr:
    """File descriptor 2 captured between :meth:`start` and :meth:`stop`; the captured lines that are not
    :func:`is_noise` are written back to the real stderr at :meth:`stop`.  Idempotent; a no-op when verbose."""

    def __init__(self):
        self._saved: int | None = None
        self._file = None

    def start(self) -> NativeStderr:
        if verbose() or self._saved is not None:
            return self
        try:
            sys.stderr.flush()
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - held open until stop()
            self._saved = os.dup(2)
            os.dup2(self._file.fileno(), 2)
        except (OSError, ValueError, AttributeError):  # no fd 2 (embedded, closed): nothing to hide
            self._restore()
        return self

    def stop(self) -> None:
        if self._saved is None:
            return
        with suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()
        captured = self._read()
        self._restore()
        kept = [line for line in captured.splitlines(keepends=True) if not is_noise(line)]
        if kept:
            os.write(2, "".join(kept).encode("utf-8", "replace"))

    def _read(self) -> str:
        self._file.seek(0)
        return self._file.read().decode("utf-8", "replace")

    def _restore(self) -> None:
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> NativeStderr:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def quiet_start(processor, method: str = "process"):
    """``with quiet_start(self): <create the MediaPipe graph>``: MediaPipe's native start-up lines captured
    from the graph's creation until the first ``method`` call of ``processor`` returns (or its ``close``).  The
    lines come from the graph's threads while the first frame runs, so the window must include that frame.
    A creation that raises puts everything captured back."""
    quiet_environment()
    capture = NativeStderr().start()
    try:
        yield capture
    except BaseException:
        capture.stop()
        raise
    if capture._saved is None:
        return
    first, close = getattr(processor, method), getattr(processor, "close", None)

    def first_call(*args, **kwargs):
        try:
            return first(*args, **kwargs)
        finally:
            capture.stop()
            setattr(processor, method, first)  # later frames call the method directly

    def closing(*args, **kwargs):
        capture.stop()
        return close(*args, **kwargs)

    setattr(processor, method, first_call)
    if close is not None:
        processor.close = closing
