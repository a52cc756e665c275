"""Log every ``bench run`` to MLflow: one experiment per benchmark, a parent run per ``bench run``, a nested
run per stage.

Where runs go: ``MLFLOW_TRACKING_URI`` when set, else MLflow's own default, which (MLflow 3.x) is
``sqlite:///mlflow.db`` in the working directory with artifacts under ``./mlruns`` -- so a plain
``mlflow ui`` started in the same directory shows every run.  (MLflow falls back to a ``./mlruns`` file
store only when one already exists there.)  We never set the URI ourselves.

Why the client API and not ``mlflow.start_run``: no global "active run" state, so nested stage runs, a
failing run and several runs in one process (tests) cannot leak into each other.

A tracker must never take the benchmark down: every MLflow call is guarded; the first failure of a run is
logged once as a warning and the rest of that run is tracked as far as MLflow lets us.  MLflow calls run on
a background thread (they overlap with the benchmark); a run's end waits for them.  Set ``SIGNSPOT_MLFLOW=0``
to switch tracking off, ``SIGNSPOT_MLFLOW_ASYNC=0`` to log inline.
"""
from __future__ import annotations

import json
import logging
import os
import posixpath
import queue
import re
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

log = logging.getLogger(__name__)

MAX_PARAM_VALUE = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE = 8000  # mlflow.utils.validation.MAX_TAG_VAL_LENGTH
MAX_KEY = 250  # mlflow.utils.validation.MAX_ENTITY_KEY_LENGTH
PARENT_TAG = "mlflow.parentRunId"
DISABLE_ENV = "SIGNSPOT_MLFLOW"
ASYNC_ENV = "SIGNSPOT_MLFLOW_ASYNC"

_mlflow_mod = None


def _mlflow():
    """Import mlflow once, on first use (the import takes seconds)."""
    global _mlflow_mod
    if _mlflow_mod is None:
        import mlflow  # noqa: PLC0415 - deliberately lazy

        # creating the default sqlite store logs INFO lines (table creation, migrations) that would cut
        # through the progress bars; warnings and errors still show
        for name in ("mlflow.store.db.utils", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
        _mlflow_mod = mlflow
    return _mlflow_mod


def tracking_enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def tracking_uri() -> str:
    """The tracking URI MLflow will use (env var or MLflow's default)."""
    return _mlflow().get_tracking_uri()


# -- pure helpers ---------------------------------------------------------------------------------------------


def sanitize_key(key: str) -> str:
    """Make ``key`` a valid MLflow param/metric name (alphanumerics, ``_ - . / space``; no ``..`` paths)."""
    key = re.sub(r"[^\w.\- /]", "_", str(key))
    key = re.sub(r"/+", "/", key).strip("/") or "_"
    if posixpath.normpath(key) != key or key in (".", "..") or key.startswith(".."):
        key = key.replace("/", "_").replace("..", "__")
    return key[:MAX_KEY]


def _param_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Path):
        return str(value)
    try:
        return json.dumps(value, sort_keys=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def flatten_config(config: Mapping, prefix: str = "") -> dict[str, str]:
    """Nested config -> ``{"spotter.training.lr": "0.0001", ...}``.

    Lists become JSON strings, empty mappings ``"{}"``, ``None`` ``"null"``; values longer than MLflow's
    6000-character param limit are skipped (the whole config is logged as ``config.yaml`` anyway).
    """
    out: dict[str, str] = {}
    for k, v in config.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(flatten_config(v, key))
            continue
        value = _param_value(v)
        if len(value) > MAX_PARAM_VALUE:
            log.debug("param %s skipped: %d characters", key, len(value))
            continue
        out[sanitize_key(key)] = value
    return out


def numeric_items(metrics: Mapping | None) -> dict[str, float]:
    """The entries of ``metrics`` that are real numbers (bools become 0/1), keys sanitized."""
    out: dict[str, float] = {}
    for k, v in (metrics or {}).items():
        if isinstance(v, bool):
            v = int(v)
        try:
            out[sanitize_key(k)] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def _truncate(text: str, limit: int = MAX_TAG_VALUE) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _stage_name(stage: Any) -> str:
    return stage if isinstance(stage, str) else str(getattr(stage, "name", stage))


def config_yaml(config: Mapping) -> str:
    import yaml

    def plain(o):
        if isinstance(o, Mapping):
            return {str(k): plain(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [plain(v) for v in o]
        if isinstance(o, Path):
            return str(o)
        return o

    return yaml.safe_dump(plain(config), sort_keys=False, default_flow_style=False)


def run_tags(run: Any) -> dict[str, str]:
    """Tags describing a run: benchmark, entry version, profile, component names, plugins, seed, device..."""
    comps = getattr(run, "components", None) or {}
    tags = {
        "benchmark": getattr(run, "benchmark", None),
        "entry_version": getattr(run, "entry_version", None),
        "profile": getattr(run, "profile", None) or "none",
        "seed": getattr(run, "seed", None),
        "device": getattr(run, "device", None),
        "git_commit": getattr(run, "git_commit", None),
        "dataset_fingerprint": getattr(run, "dataset_fingerprint", None),
        "mlflow.source.git.commit": getattr(run, "git_commit", None),
        "signspot.kind": "bench-run",
    }
    description = (getattr(run, "config", None) or {}).get("description")
    if isinstance(description, str) and description.strip():
        tags["mlflow.note.content"] = description.strip()  # the run's description in the MLflow UI
    experts = comps.get("experts")
    if experts is not None:
        tags["experts"] = ",".join(map(str, experts)) if not isinstance(experts, str) else experts
    for kind in ("spotter", "decoder", "dataset"):
        if comps.get(kind) is not None:
            tags[kind] = comps[kind]
    for plugin in getattr(run, "plugins", None) or []:
        name = plugin.get("name") if isinstance(plugin, Mapping) else getattr(plugin, "name", None)
        if not name:
            continue
        get = plugin.get if isinstance(plugin, Mapping) else (lambda k, p=plugin: getattr(p, k, None))
        dist, version = get("distribution"), get("version")
        tags[f"plugin.{sanitize_key(name)}"] = f"{dist or 'built-in'}=={version or 'unknown'}"
    return {k: _truncate(v) for k, v in tags.items() if v is not None}


# -- the tracker ----------------------------------------------------------------------------------------------


@dataclass
class _RunState:
    client: Any = None
    run_id: str | None = None
    experiment_id: str | None = None
    stages: list = field(default_factory=list)  # open nested runs, innermost last: [(stage name, run id)]
    warned: bool = False
    dead: bool = False  # creating the parent run failed: nothing more to do for this run


class MlflowTracker:
    """What the lifecycle hooks of :mod:`benchmark.tracking.plugin` delegate to.

    The hooks only snapshot their arguments and queue the MLflow calls for one background thread, so the
    seconds MLflow needs (import, opening the store, HTTP round trips) overlap with the benchmark instead of
    adding to it.  ``run_finished`` / ``run_failed`` wait for the queue, so a run is complete in MLflow (and
    ``run.tracking["mlflow_run_id"]`` is set) when they return.  ``SIGNSPOT_MLFLOW_ASYNC=0`` logs inline.
    """

    FINISH_TIMEOUT_S = 300.0
    FAIL_TIMEOUT_S = 60.0

    def __init__(self, asynchronous: bool | None = None) -> None:
        if asynchronous is None:
            asynchronous = os.environ.get(ASYNC_ENV, "1").strip().lower() not in ("0", "false", "no", "off")
        self.asynchronous = asynchronous
        self._states: dict[int, _RunState] = {}  # touched by the worker only (or inline when synchronous)
        self._queue: queue.Queue | None = None
        self._lock = threading.Lock()

    # -- the queue -----------------------------------------------------------------------------------------

    def _submit(self, task: Callable[[], None]) -> None:
        if not self.asynchronous:
            task()
            return
        with self._lock:
            if self._queue is None:
                # concurrent.futures.thread (used inside MLflow) refuses to be first imported once the
                # interpreter is shutting down; import it now so queued calls still work then
                import concurrent.futures.thread  # noqa: F401

                q: queue.Queue = queue.Queue()
                try:
                    threading.Thread(target=self._work, args=(q,), name="signspot-mlflow").start()
                except RuntimeError:  # interpreter shutting down: no new threads
                    task()
                    return
                self._queue = q
            self._queue.put(task)

    def _work(self, q: queue.Queue) -> None:
        """Run queued tasks; once the main thread has ended and the queue is empty, end still-open runs and stop.

        Not a daemon thread, so queued MLflow calls finish before the interpreter exits (and before atexit
        handlers run, which MLflow's lazy imports need).
        """
        main = threading.main_thread()
        while True:
            try:
                task = q.get(timeout=0.25)
            except queue.Empty:
                if main.is_alive():
                    continue
                with self._lock:
                    if not q.empty():
                        continue
                    self._queue = None
                self._close_orphans()
                return
            try:
                task()
            except BaseException as exc:  # noqa: BLE001 - tasks guard themselves; never let the worker die
                log.debug("MLflow tracking task failed: %s", exc)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued MLflow call is done; False if ``timeout`` seconds passed first."""
        with self._lock:
            q = self._queue
        if q is None:
            return True
        done = threading.Event()
        q.put(done.set)
        return done.wait(timeout)

    def _wait(self, timeout: float) -> None:
        if not self.flush(timeout):
            log.warning("MLflow tracking did not finish within %.0f s; the tracked run may be incomplete.", timeout)

    def _close_orphans(self) -> None:
        """Runs still open when the program ends (no run_finished/run_failed came) end FAILED, not RUNNING."""
        for key in list(self._states):
            st = self._states.pop(key)
            if st.run_id and not st.dead:
                self._fail(st, "the process exited before the run ended", "")

    # -- plumbing ------------------------------------------------------------------------------------------

    def _state(self, run: Any) -> _RunState | None:
        st = self._states.get(id(run))
        return st if st is not None and not st.dead and st.run_id else None

    @contextmanager
    def _guard(self, st: _RunState | None, what: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a tracker never takes the run down
            if st is None or not st.warned:
                log.warning("MLflow tracking failed (%s): %s: %s; the benchmark run continues.",
                            what, type(exc).__name__, exc)
                if st is not None:
                    st.warned = True
            else:
                log.debug("MLflow tracking failed (%s): %s", what, exc)

    def _publish(self, run: Any, **items: Any) -> None:
        tracking = getattr(run, "tracking", None)
        if isinstance(tracking, dict):
            tracking.update(items)

    def _log(self, st: _RunState, run_id: str, *, params=None, metrics=None, tags=None, step=0) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        st.client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, int(step)) for k, v in (metrics or {}).items()],
            params=[Param(k, v) for k, v in (params or {}).items()],
            tags=[RunTag(k, _truncate(v)) for k, v in (tags or {}).items()],
        )

    def _log_paths(self, out: Path | None, st: _RunState, run_id: str, paths, what: str) -> None:
        """Log files and folders; those inside the run's ``output_dir`` keep their relative folder."""
        for p in paths or []:
            p = Path(p)
            folder = None
            if out is not None:
                try:
                    folder = p.parent.resolve().relative_to(Path(out).resolve()).as_posix()
                except ValueError:
                    folder = None
            folder = None if folder in (None, ".", "") else folder
            with self._guard(st, f"{what}: artifact {p}"):
                if p.is_dir():
                    st.client.log_artifacts(run_id, str(p), artifact_path="/".join(filter(None, [folder, p.name])))
                elif p.is_file():
                    st.client.log_artifact(run_id, str(p), artifact_path=folder)
                else:
                    log.debug("artifact %s does not exist; not logged", p)

    def _open_stage(self, st: _RunState, name: str, benchmark: str | None) -> str | None:
        parent = st.stages[-1][1] if st.stages else st.run_id
        tags = {PARENT_TAG: parent, "stage": name, "benchmark": benchmark}
        with self._guard(st, f"start stage {name}"):
            r = st.client.create_run(st.experiment_id, run_name=name,
                                     tags={k: str(v) for k, v in tags.items() if v is not None})
            st.stages.append((name, r.info.run_id))
            return r.info.run_id
        return None

    def _find_stage(self, st: _RunState, name: str) -> str | None:
        for stage, rid in reversed(st.stages):
            if stage == name:
                return rid
        return None

    def _close_stage(self, st: _RunState, name: str, status: str) -> None:
        """End stage ``name`` and every run opened inside it that is still open."""
        for i in range(len(st.stages) - 1, -1, -1):
            if st.stages[i][0] == name:
                while len(st.stages) > i:
                    stage, rid = st.stages.pop()
                    with self._guard(st, f"end stage {stage}"):
                        st.client.set_terminated(rid, status)
                return

    def _close_all_stages(self, st: _RunState, status: str) -> None:
        while st.stages:
            name, rid = st.stages.pop()
            with self._guard(st, f"end stage {name}"):
                st.client.set_terminated(rid, status)

    def _experiment(self, client: Any, name: str) -> str:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            try:
                return client.create_experiment(name)
            except Exception:  # created concurrently by another process
                exp = client.get_experiment_by_name(name)
                if exp is None:
                    raise
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id

    def _fail(self, st: _RunState, message: str, tb: str) -> None:
        with self._guard(st, "record error"):
            st.client.set_tag(st.run_id, "error", _truncate(message))
        if tb:
            with self._guard(st, "log error.txt"):
                st.client.log_text(st.run_id, tb, "error.txt")
        for stage, rid in st.stages:
            with self._guard(st, f"record error on {stage}"):
                st.client.set_tag(rid, "error", _truncate(message))
        self._close_all_stages(st, "FAILED")
        with self._guard(st, "end run"):
            st.client.set_terminated(st.run_id, "FAILED")

    # -- lifecycle (called on the hook's thread: snapshot, then queue) ----------------------------------------

    def run_started(self, run: Any) -> None:
        """Create (or reuse) the benchmark's experiment and the parent run; log params, tags, config.yaml."""
        if not tracking_enabled():
            return
        config = getattr(run, "config", None) or {}
        prepared = (flatten_config(config), config_yaml(config), run_tags(run),
                    str(getattr(run, "benchmark", None) or "signspot"), getattr(run, "run_name", None))
        self._submit(lambda: self._run_started(run, *prepared))

    def stage_started(self, run: Any, stage: Any) -> None:
        name = _stage_name(stage)
        self._submit(lambda: self._stage_started(run, name))

    def epoch_finished(self, run: Any, stage: Any, epoch: int, metrics: Mapping) -> None:
        """Per-epoch metrics on the stage's nested run, ``step=epoch``.

        ``stage`` may be ``"<open stage>/<part>"`` (e.g. ``train-expert:rgb/round1``): the metrics then go to
        the open stage's run as ``round1/loss``...; an unknown stage gets its own nested run.
        """
        name, values = _stage_name(stage), numeric_items(metrics)
        self._submit(lambda: self._epoch_finished(run, name, int(epoch), values))

    def stage_finished(self, run: Any, stage: Any, result: Any) -> None:
        """Stage metrics, params, seconds and reused flag on its nested run (then ended); seconds on the parent."""
        seconds, reused = getattr(result, "seconds", None), getattr(result, "reused", None)
        metrics = numeric_items(getattr(result, "metrics", None))
        if seconds is not None:
            metrics["seconds"] = float(seconds)
        if reused is not None:
            metrics["reused"] = float(bool(reused))
        snap = {
            "metrics": metrics,
            "params": flatten_config(getattr(result, "params", None) or {}),
            "tags": {k: v for k, v in {"reused": None if reused is None else str(bool(reused)).lower(),
                                       "cache_key": getattr(result, "key", None)}.items() if v is not None},
            "artifacts": list(getattr(result, "artifacts", None) or []),
        }
        name = _stage_name(stage)
        self._submit(lambda: self._stage_finished(run, name, snap))

    def run_finished(self, run: Any, summary: Mapping) -> None:
        """Final metrics and artifacts on the parent run; everything ends FINISHED.  Waits for MLflow."""
        summary = dict(summary or {})
        metrics = numeric_items({k: v for k, v in summary.items() if k != "artifacts"})
        artifacts = list(summary.get("artifacts") or [])
        self._submit(lambda: self._run_finished(run, metrics, artifacts))
        self._wait(self.FINISH_TIMEOUT_S)

    def run_failed(self, run: Any, error: BaseException) -> None:
        """Record the error (tag ``error`` + ``error.txt``) and end every open run FAILED.  Waits for MLflow."""
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self._submit(lambda: self._run_failed(run, message, tb))
        self._wait(self.FAIL_TIMEOUT_S)

    # -- lifecycle (on the worker) ----------------------------------------------------------------------------

    def _run_started(self, run, params, config_text, tags, experiment, run_name) -> None:
        st = _RunState()
        self._states[id(run)] = st
        with self._guard(st, "start run"):
            uri = tracking_uri()
            _check_server(uri)
            from mlflow.tracking import MlflowClient

            st.client = MlflowClient(uri)
            st.experiment_id = self._experiment(st.client, experiment)
            try:  # mlflow.user, mlflow.source.name...: what `mlflow.start_run` would add
                from mlflow.tracking.context.registry import resolve_tags

                tags = {**resolve_tags({}), **tags}
            except Exception:  # noqa: BLE001
                pass
            r = st.client.create_run(st.experiment_id, run_name=run_name, tags=tags)
            st.run_id = r.info.run_id
            self._publish(run, mlflow_run_id=st.run_id, mlflow_experiment_id=st.experiment_id,
                          mlflow_tracking_uri=uri)
        if not st.run_id:
            st.dead = True
            return
        with self._guard(st, "log params"):
            self._log(st, st.run_id, params=params)
        with self._guard(st, "log config.yaml"):
            st.client.log_text(st.run_id, config_text, "config.yaml")

    def _stage_started(self, run, name) -> None:
        st = self._state(run)
        if st is not None:
            self._open_stage(st, name, getattr(run, "benchmark", None))

    def _epoch_finished(self, run, name, epoch, values) -> None:
        st = self._state(run)
        if st is None:
            return
        rid = self._find_stage(st, name)
        if rid is None and "/" in name:
            head, part = name.split("/", 1)
            rid = self._find_stage(st, head)
            if rid is not None:
                values = {f"{sanitize_key(part)}/{k}": v for k, v in values.items()}
        if rid is None:
            rid = self._open_stage(st, name, getattr(run, "benchmark", None))
        if rid is None:
            return
        with self._guard(st, f"log epoch {epoch} of {name}"):
            self._log(st, rid, metrics=values, step=epoch)

    def _stage_finished(self, run, name, snap) -> None:
        st = self._state(run)
        if st is None:
            return
        rid = self._find_stage(st, name) or self._open_stage(st, name, getattr(run, "benchmark", None))
        if rid is not None:
            with self._guard(st, f"log stage {name}"):
                self._log(st, rid, metrics=snap["metrics"], params=snap["params"], tags=snap["tags"])
            self._log_paths(getattr(run, "output_dir", None), st, rid, snap["artifacts"], f"stage {name}")
        parent = {f"stage.{sanitize_key(name)}.{k}": v for k, v in snap["metrics"].items() if k in ("seconds", "reused")}
        with self._guard(st, f"log stage {name} on parent"):
            self._log(st, st.run_id, metrics=parent)
        if rid is not None:
            self._close_stage(st, name, "FINISHED")

    def _run_finished(self, run, metrics, artifacts) -> None:
        st = self._states.pop(id(run), None)
        if st is None or st.dead or not st.run_id:
            return
        with self._guard(st, "log final metrics"):
            self._log(st, st.run_id, metrics=metrics)
        self._log_paths(getattr(run, "output_dir", None), st, st.run_id, artifacts, "run")
        self._close_all_stages(st, "FINISHED")
        with self._guard(st, "end run"):
            st.client.set_terminated(st.run_id, "FINISHED")

    def _run_failed(self, run, message, tb) -> None:
        st = self._states.pop(id(run), None)
        if st is None or st.dead or not st.run_id:
            return
        self._fail(st, message, tb)


def ui_hint(tracking: Mapping) -> str:
    """How to look at a tracked run, from ``RunContext.tracking``: a URL for a server, else an ``mlflow ui`` line."""
    uri, exp, rid = (tracking.get(k) for k in ("mlflow_tracking_uri", "mlflow_experiment_id", "mlflow_run_id"))
    if not uri or not rid:
        return "not tracked (MLflow tracking is off or failed; see the warning above)"
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/#/experiments/{exp}/runs/{rid}"
    default = f"sqlite:///{os.path.abspath('mlflow.db')}"
    if uri == default:
        return f"run `mlflow ui` in {os.getcwd()} and open http://127.0.0.1:5000/#/experiments/{exp}/runs/{rid}"
    return f"mlflow ui --backend-store-uri {uri}  (then open http://127.0.0.1:5000/#/experiments/{exp}/runs/{rid})"


def _check_server(uri: str, timeout: float = 5.0) -> None:
    """Fail fast on an unreachable tracking server (MLflow's own client retries for minutes)."""
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # the server answers; /health may be behind auth or a proxy
    except OSError as exc:
        raise ConnectionError(f"MLflow tracking server {uri} is unreachable ({exc})") from None
