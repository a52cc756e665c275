"""One run of a resolved benchmark entry, stage by stage.

Every stage is cached (:mod:`benchmark.storage.cache`) under a key derived from its inputs' keys, its resolved settings
and its code, so a second run that changes only the spotter reuses the preprocessed modalities and the expert
features, and a killed run resumes at the first unfinished stage.  Lifecycle hooks are called around the run and
every stage (:mod:`benchmark.stages.base`) so trackers (MLflow) can record it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from benchmark.config.entries import ResolvedBenchmark, dump_yaml
from benchmark.runtime.process import set_up
from benchmark.stages import graph
from benchmark.stages.base import RunContext, Stages, say
from benchmark.stages.data import open_run_data
from benchmark.stages.handoffs import Features, RunData, RunSummary, TrainedSpotter
from benchmark.stages.names import EXPERT
from benchmark.stages.spotter import spotter_seed
from benchmark.storage.cache import StageCache
from benchmark.storage.files import write_json, write_text


class Pipeline:
    """Runs one resolved benchmark configuration: ``Pipeline(resolved, manager, cache).run()``."""

    def __init__(
        self,
        resolved: ResolvedBenchmark,
        manager,
        cache: StageCache,
        *,
        device: str = "cpu",
        run_name: str | None = None,
        workers: int | None = None,
        threads: int | None = None,
        progress: bool = True,
        output_dir: Path | None = None,
        parent_run_id: str | None = None,
        tags: dict | None = None,
        params: dict | None = None,
        echo=say,
        track: bool = True,
        overrides: list[str] | None = None,
        devices: list[str] | None = None,
    ):
        self.resolved = resolved
        self.config = resolved.config
        self.pm = manager
        self.cache = cache
        self.device = device
        self.progress = progress
        self.workers = workers
        self.threads = threads
        self.parent_run_id, self.tags, self.params = parent_run_id, dict(tags or {}), dict(params or {})
        self.devices = list(devices or [])  # more than one: independent experts train at once, one per device
        self.overrides = list(overrides or [])  # what differs from the entry, for the run's description
        self.started_at: int | None = None  # epoch ms, set when run() begins
        self.echo = echo
        self.notify = manager.notify if track else _untracked
        self.run_name = run_name or resolved.name + (f" [{resolved.profile}]" if resolved.profile else "")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self._own_dir = output_dir is None  # a folder of our own under runs/: made unique when the run starts
        self.output_dir = Path(output_dir) if output_dir else cache.root / "runs" / f"{stamp}-{_slug(self.run_name)}"

    def run(self) -> dict:
        t0 = time.perf_counter()
        self.started_at = int(time.time() * 1000)  # the tracked run's start: before the dataset is opened
        set_up(threads=self.threads, seed=int(self.config["seed"]))
        data = open_run_data(self.config, self.pm.components, self.cache.root, progress=self.progress, echo=self.echo)
        if self._own_dir:  # claimed before anything records it
            self.output_dir, self._own_dir = _fresh_folder(self.output_dir), False
        context = self._context(data)
        stages = Stages(
            self.cache,
            self.pm.components,
            self.notify,
            context,
            device=self.device,
            progress=self.progress,
            workers=self.workers,
            echo=self.echo,
        )
        self.output_dir.mkdir(parents=True, exist_ok=True)
        write_text(self.output_dir / "config.yaml", dump_yaml(self.config))
        self.notify("run_started", run=context)
        try:
            summary = self.stages(stages, data).as_dict()
        except BaseException as exc:
            self.notify("run_failed", run=context, error=exc)
            raise
        summary.update(
            seconds=time.perf_counter() - t0,
            reused=list(stages.reused),
            computed=list(stages.computed),
            run_name=self.run_name,
        )
        # what makes two runs comparable (`bench compare` refuses other datasets and entry versions)
        summary.update(
            benchmark=self.resolved.name,
            entry_version=self.resolved.version,
            profile=self.resolved.profile,
            seed=int(self.config["seed"]),
            spotter_seed=spotter_seed(self.config),
            dataset_fingerprint=data.fingerprint,
        )
        write_json(self.output_dir / "summary.json", summary)
        self.notify("run_finished", run=context, summary=summary)
        summary.update(run_id=context.run_id, links=dict(context.links), expectation=self.resolved.expectation())
        summary["within_expectation"] = self.resolved.within_expectation(summary["f1"]) if "f1" in summary else None
        return summary

    def stages(self, stages: Stages, data: RunData) -> RunSummary:
        """The run, top-down: the stage graph walked whole (:mod:`benchmark.stages.graph`)."""
        before = {EXPERT: lambda walk: self.experts_elsewhere(stages, walk)} if len(self.devices) > 1 else None
        walk = graph.walk(stages, data, self.config, before=before)
        summary = walk.summary
        if walk.spotter.val_f1 is not None:  # what the epoch was chosen by: the number to tune settings on
            summary.metrics["val_f1"] = float(walk.spotter.val_f1)
        bundle = self.bundle(walk.data, walk.features, walk.spotter)
        summary.pipeline = bundle.folder if bundle is not None else None
        return summary

    def experts_elsewhere(self, stages: Stages, walk: graph.Walk) -> None:
        """``--devices``: the experts not cached yet trained at once, one worker process per device."""
        from benchmark.stages.parallel import train_experts_on_devices

        stages.elsewhere.update(train_experts_on_devices(stages, walk.data, self.config, self.devices))

    def bundle(self, data: RunData, features: Features, spotter: TrainedSpotter):
        """The trained pipeline as one folder of the run's outputs, for ``bench spot``
        (:mod:`benchmark.storage.bundle`); None for a query spotter (it has no weights: ``bench lookup`` runs
        the training-free matcher on new files)."""
        from benchmark.queries import QuerySpotter
        from benchmark.storage.bundle import write_bundle

        if isinstance(self.pm.components("spotter").get(self.config["spotter"]["name"]), QuerySpotter):
            return None

        experts = []
        for e in features.experts:
            spec = self.config["experts"][e.expert_id]
            experts.append(
                {
                    "id": e.expert_id,
                    "name": spec["name"],
                    "modality": spec["modality"],
                    "settings": spec["settings"],
                    "num_outputs": data.num_outputs,
                    "feature_dim": e.dim,
                    "state": e.checkpoint,
                }
            )
        head = {
            "name": self.config["spotter"]["name"],
            "settings": self.config["spotter"]["settings"],
            "feature_dim": spotter.feature_dim,
            "num_outputs": data.num_outputs,
            "state": spotter.state_path,
        }
        return write_bundle(self.output_dir / "pipeline", self.config, data.class_names, experts, head)

    def _context(self, data: RunData) -> RunContext:
        c = self.config
        components = {
            "dataset": c["dataset"]["name"],
            "experts": [f"{spec['name']}:{eid}" for eid, spec in c["experts"].items()],
            "spotter": c["spotter"]["name"],
            "decoder": c["decoder"]["name"],
            "metrics": list(c["metrics"]),
        }
        return RunContext(
            self.resolved.name,
            self.resolved.version,
            self.resolved.profile,
            c,
            self.run_name,
            int(c["seed"]),
            self.device,
            components,
            plugin_versions(self.pm),
            data.fingerprint,
            git_commit(),
            self.cache.root,
            self.output_dir,
            parent_run_id=self.parent_run_id,
            tags=dict(self.tags),
            params=dict(self.params),
            started_at=self.started_at,
            overrides=list(self.overrides),
            dataset={
                "name": data.dataset,
                "root": str(data.root) if data.root else None,
                "fingerprint": data.fingerprint,
                "splits": {split: len(data.videos[split]) for split in data.splits},
                "signs": {split: sum(len(v.annotations or ()) for v in data.videos[split]) for split in data.splits},
                "classes": len(data.class_names),
                "eval_split": data.eval_split,
            },
        )


def _untracked(hook: str, **kwargs) -> None:
    """``--no-track``: lifecycle notifications go nowhere."""


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except Exception:  # no git, not a checkout
        return None


def plugin_versions(pm) -> list[dict]:
    return [
        {"name": p.name, "distribution": p.distribution or "signspot-bench", "version": p.version, "status": p.status}
        for p in pm.plugins()
    ]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-")[:60]


def _fresh_folder(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``...: created here, so runs started in the same second with the same name
    (a sweep's trials on several workers) never share an output folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = path if n == 1 else path.with_name(f"{path.name}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"no free output folder next to {path}")
