"""The stage runner: dataset -> preprocess -> train experts -> extract features -> train spotter -> decode -> score.

Every stage is cached (:mod:`benchmark.cache`) under a key derived from its inputs' keys, its resolved config
and its code version, so a second run that changes only the spotter reuses the preprocessed modalities and the
expert features, and a killed run resumes at the first unfinished stage.  Lifecycle hooks are called around
every stage so trackers (MLflow) can record it.

Evaluation split: ``test`` when it carries ground truth, else ``validation``.  The spotter's checkpoint is
chosen by validation F1 (``select: best``) only when a validation split exists and is not the evaluation split;
otherwise the last epoch is kept (no selection on the data it is scored on).
"""
from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from benchmark import __version__
from benchmark.cache import StageCache, atomic_save_npy, atomic_write_text, code_version, make_key
from benchmark.clips import ClipSpec, frame_labels
from benchmark.entries import ResolvedBenchmark, dump_yaml
from benchmark.errors import BenchError

log = logging.getLogger(__name__)

STAGES = ("preprocess", "train-experts", "extract-features", "train-spotter", "decode", "score")


@dataclass
class RunContext:
    benchmark: str
    entry_version: str
    profile: str | None
    config: dict
    run_name: str
    seed: int
    device: str
    components: dict
    plugins: list[dict]
    dataset_fingerprint: str | None
    git_commit: str | None
    cache_dir: Path
    output_dir: Path
    tracking: dict = field(default_factory=dict)


@dataclass
class StageResult:
    name: str
    key: str
    reused: bool
    seconds: float
    metrics: dict = field(default_factory=dict)
    artifacts: list = field(default_factory=list)
    params: dict = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except Exception:
        return None


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Pipeline:
    """Runs one resolved benchmark configuration."""

    def __init__(self, resolved: ResolvedBenchmark, manager, cache: StageCache, *, device: str = "cpu",
                 run_name: str | None = None, data_path: str | None = None, workers: int | None = None,
                 progress: bool = True, output_dir: Path | None = None):
        self.resolved = resolved
        self.config = resolved.config
        self.pm = manager
        self.cache = cache
        self.device = device
        self.progress = progress
        self.seed = int(self.config.get("seed", 0))
        self.clips = ClipSpec.from_settings(self.config.get("clips"))
        self.workers = workers
        self.data_path = data_path
        experts = list(self.config["experts"])
        self.run_name = run_name or f"{resolved.name}" + (f" [{resolved.profile}]" if resolved.profile else "")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.output_dir = Path(output_dir) if output_dir else cache.root / "runs" / f"{stamp}-{_slug(self.run_name)}"
        self.components = {
            "dataset": self.config["dataset"]["name"],
            "experts": [f"{self.config['experts'][e]['name']}:{e}" for e in experts],
            "spotter": self.config["spotter"]["name"],
            "decoder": self.config["decoder"]["name"],
            "metrics": list(self.config["metrics"]),
        }
        self.reused: list[str] = []
        self.ctx: RunContext | None = None

    # -- helpers ------------------------------------------------------------------------------------------
    def _component(self, kind: str, name: str):
        return self.pm.components(kind).get(name)

    def _stage(self, name: str, key: str, compute: Callable[[Path], dict | None]) -> tuple[Path, StageResult]:
        self.pm.notify("stage_started", run=self.ctx, stage=name)
        start = time.perf_counter()
        folder, reused = self.cache.run(name.split(":")[0], key, compute)
        seconds = time.perf_counter() - start
        manifest = self.cache.manifest(name.split(":")[0], key)
        result = StageResult(name, key, reused, seconds, metrics=dict(manifest.get("metrics", {})),
                             params=dict(manifest.get("params", {})))
        if reused:
            self.reused.append(name)
            say(f"  reused {name} (cache {folder})")
        else:
            say(f"  finished {name} in {seconds:.1f} s")
        self.pm.notify("stage_finished", run=self.ctx, stage=name, result=result)
        return folder, result

    def _epoch_hook(self, stage: str):
        def on_epoch(*args):
            # experts call on_epoch(suffix, epoch, metrics); spotters on_epoch(epoch, metrics)
            if len(args) == 3:
                suffix, epoch, metrics = args
                sub = f"{stage}/{suffix}"
            else:
                epoch, metrics = args
                sub = stage
            self.pm.notify("epoch_finished", run=self.ctx, stage=sub, epoch=int(epoch), metrics=dict(metrics))
        return on_epoch

    # -- the run --------------------------------------------------------------------------------------------
    def run(self) -> dict:
        t0 = time.perf_counter()
        seed_everything(self.seed)
        dataset = self.load_dataset()
        self.ctx = RunContext(
            benchmark=self.resolved.name, entry_version=self.resolved.version, profile=self.resolved.profile,
            config=self.config, run_name=self.run_name, seed=self.seed, device=self.device,
            components=self.components, plugins=plugin_versions(self.pm),
            dataset_fingerprint=dataset.fingerprint(), git_commit=git_commit(),
            cache_dir=self.cache.root, output_dir=self.output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.output_dir / "config.yaml", dump_yaml(self.config))
        self.pm.notify("run_started", run=self.ctx)
        try:
            summary = self._run_stages(dataset)
        except BaseException as exc:
            self.pm.notify("run_failed", run=self.ctx, error=exc)
            raise
        summary["seconds"] = time.perf_counter() - t0
        summary["reused"] = list(self.reused)
        summary["run_name"] = self.run_name
        atomic_write_text(self.output_dir / "summary.json", json.dumps(_jsonable(summary), indent=2))
        self.pm.notify("run_finished", run=self.ctx, summary=summary)
        summary["run_id"] = self.ctx.tracking.get("mlflow_run_id")
        summary["tracking"] = dict(self.ctx.tracking)
        return summary

    def load_dataset(self):
        ds_cfg = self.config["dataset"]
        factory = self._component("dataset", ds_cfg["name"])
        root = self.data_path or ds_cfg.get("path")
        settings = dict(ds_cfg.get("settings") or {})
        if ds_cfg["name"] == "synthetic" and not self.progress:
            settings.setdefault("progress", False)  # generation is not part of the data's identity
        return factory(Path(root).expanduser() if root else None, settings, self.cache.root)

    def _preprocess(self, dataset, all_videos, needed: set, modalities, pre_cfg: dict):
        """Stage 0.  One folder per dataset and preprocessing settings, shared by every run and extended in
        place: a run that needs a modality (or a video) not there yet computes only that, so swapping experts
        reuses the pose and crops already computed.  Files are written atomically; the manifest, rewritten
        atomically after each pass, says which (video, modality) pairs are complete and which videos were
        skipped as bad."""
        from benchmark.modalities.runner import cache_signature, preprocess_videos

        stage = "preprocess"
        configured = {m for m in pre_cfg if m in modalities} | set(needed)
        signature = cache_signature({m: modalities.get(m) for m in sorted(configured)}, pre_cfg)
        key = make_key(stage, dataset.fingerprint(), signature,
                       {m: code_version(modalities.get(m)) for m in sorted(configured)}, __version__)
        folder = self.cache.path(stage, key)
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"videos": {}, "skipped": {}}
        index, skipped = manifest["videos"], manifest["skipped"]
        todo = [v for v in all_videos if v.video_id not in skipped
                and any(m not in index.get(v.video_id, {}) for m in needed)]
        say(f"preprocess: {len(all_videos)} videos, modalities {', '.join(sorted(needed))}")
        self.pm.notify("stage_started", run=self.ctx, stage=stage)
        start = time.perf_counter()
        if todo:
            folder.mkdir(parents=True, exist_ok=True)
            workers = self.workers if self.workers is not None else int(pre_cfg.get("workers", 0) or 0)
            reasons: dict[str, str] = {}
            result = preprocess_videos(todo, {m: modalities.get(m) for m in needed}, pre_cfg, folder,
                                       workers=workers, on_bad_video=pre_cfg.get("on_bad_video", "fail"),
                                       progress=self.progress, min_frames=self.clips.length, skipped=reasons)
            for video in todo:
                if video.video_id in result:
                    index.setdefault(video.video_id, {}).update(
                        {m: str(Path(p).relative_to(folder)) for m, p in result[video.video_id].items()})
                else:
                    skipped[video.video_id] = reasons.get(video.video_id, "bad video")
                    say(f"  skipped video {video.video_id} (on_bad_video: skip): {skipped[video.video_id]}")
            atomic_write_text(manifest_path, json.dumps({"stage": stage, "key": key, "videos": index,
                                                         "skipped": skipped, "signature": signature}, indent=1))
            say(f"  finished {stage} of {len(todo)} videos in {time.perf_counter() - start:.1f} s")
        else:
            self.reused.append(stage)
            say(f"  reused {stage} (cache {folder})")
        result = StageResult(stage, key, not todo, time.perf_counter() - start,
                             metrics={"videos": len(todo), "skipped": len(skipped)},
                             params={"modalities": sorted(needed)})
        self.pm.notify("stage_finished", run=self.ctx, stage=stage, result=result)
        return folder, index

    def _run_stages(self, dataset) -> dict:
        splits = dataset.splits()
        eval_split = "test" if "test" in splits and _labelled(dataset.videos("test")) else "validation"
        if eval_split not in splits:
            raise BenchError(f"dataset {dataset.root} has no labelled test or validation split to score on")
        select_split = "validation" if "validation" in splits and eval_split != "validation" else None
        used_splits = ["train"] + ([select_split] if select_split else []) + [eval_split]
        videos = {s: dataset.videos(s) for s in used_splits}
        if not videos["train"]:
            raise BenchError(f"dataset {dataset.root} has no training videos")
        num_outputs = dataset.num_classes + 1

        # 1. preprocess ------------------------------------------------------------------------------------
        experts_cfg = self.config["experts"]
        expert_objs = {eid: self._component("expert", spec["name"]) for eid, spec in experts_cfg.items()}
        modality_of = {eid: spec.get("modality") or expert_objs[eid].modality for eid, spec in experts_cfg.items()}
        modalities = self.pm.components("modality")
        needed = _with_dependencies(set(modality_of.values()), modalities)
        pre_cfg = dict(self.config.get("preprocess") or {})
        pre_dir, pre_index = self._preprocess(dataset, [v for s in used_splits for v in videos[s]], needed,
                                              modalities, pre_cfg)
        for split in used_splits:  # videos skipped as bad (on_bad_video: skip) drop out of every stage
            videos[split] = [v for v in videos[split] if v.video_id in pre_index]

        def modality_key(modality: str) -> str:
            """What an expert's input depends on: the dataset and the settings of its modality chain only."""
            from benchmark.modalities.runner import cache_signature

            return make_key(dataset.fingerprint(), cache_signature({modality: modalities.get(modality)}, pre_cfg))

        def modality_array(video, modality):
            return np.load(pre_dir / pre_index[video.video_id][modality], mmap_mode="r")

        # 2 + 3. experts: train, then extract ------------------------------------------------------------------
        self.pm.notify("stage_started", run=self.ctx, stage="train-experts")
        t_train = time.perf_counter()
        from experts.training import training_for

        expert_keys, feature_dirs = {}, {}
        settings_of = {eid: dict(spec.get("settings") or {}) for eid, spec in experts_cfg.items()}
        training_of = {eid: training_for(expert_objs[eid], self.config.get("expert_training"), spec.get("training"))
                       for eid, spec in experts_cfg.items()}
        for eid, spec in experts_cfg.items():
            expert = expert_objs[eid]
            modality = modality_of[eid]
            training, settings = training_of[eid], settings_of[eid]
            train_key = make_key("train-expert", modality_key(modality), spec["name"], modality, settings, training, self.clips.__dict__,
                                 self.seed, num_outputs, code_version(expert), __version__)
            expert_keys[eid] = train_key

            def do_train(folder: Path, expert=expert, settings=settings, training=training, modality=modality, eid=eid):
                from experts.checkpoints import save_state
                from experts.training import train_expert

                data = [(frame_labels(v.annotations, len(arr)), arr)
                        for v in videos["train"] for arr in [modality_array(v, modality)]]
                state = train_expert(expert, settings, training, data, self.clips, num_outputs, device=self.device,
                                     seed=self.seed, on_epoch=self._epoch_hook(f"train-expert:{eid}"),
                                     progress=self.progress, modality=modality)
                save_state(state, folder / "checkpoint.pt")
                return {"params": {"expert": spec["name"], "modality": modality}}

            say(f"train expert {eid} ({spec['name']} on {modality})")
            self._stage(f"train-expert:{eid}", train_key, do_train)
        self.pm.notify("stage_finished", run=self.ctx, stage="train-experts",
                       result=StageResult("train-experts", make_key(expert_keys), all(f"train-expert:{e}" in self.reused for e in experts_cfg),
                                          time.perf_counter() - t_train))

        self.pm.notify("stage_started", run=self.ctx, stage="extract-features")
        t_ext = time.perf_counter()
        feature_dims = {}
        for eid, spec in experts_cfg.items():
            expert = expert_objs[eid]
            training, settings = training_of[eid], settings_of[eid]
            feat_key = make_key("extract", expert_keys[eid], training.get("extract_batch_size", 32), self.clips.__dict__)
            feature_dims[eid] = int(expert.feature_dim({**settings, "modality": modality_of[eid]}))

            def do_extract(folder: Path, eid=eid, expert=expert, settings=settings, training=training):
                from experts.checkpoints import load_state
                from experts.extraction import FeatureExtractor

                state = load_state(self.cache.path("train-expert", expert_keys[eid]) / "checkpoint.pt")
                extractor = FeatureExtractor(expert, settings, state, self.device,
                                             int(training.get("extract_batch_size", 32)),
                                             modality=modality_of[eid], training=training)
                todo = [v for s in used_splits for v in videos[s]]
                for video in _progress(todo, f"extract {eid}", self.progress):
                    out = folder / f"{video.video_id}.npy"
                    if out.exists():  # written atomically by an earlier, interrupted attempt
                        continue
                    feats = extractor(modality_array(video, modality_of[eid]), self.clips)
                    atomic_save_npy(out, np.asarray(feats, dtype=np.float32))
                return {"params": {"feature_dim": feature_dims[eid]}}

            folder, _ = self._stage(f"extract-features:{eid}", feat_key, do_extract)
            feature_dirs[eid] = folder
        self.pm.notify("stage_finished", run=self.ctx, stage="extract-features",
                       result=StageResult("extract-features", make_key([str(f) for f in feature_dirs.values()]),
                                          all(f"extract-features:{e}" in self.reused for e in experts_cfg),
                                          time.perf_counter() - t_ext))

        def features(video) -> np.ndarray:
            return np.concatenate([np.load(feature_dirs[e] / f"{video.video_id}.npy") for e in experts_cfg], axis=1)

        feature_dim = sum(feature_dims.values())

        # 4. spotter ---------------------------------------------------------------------------------------
        spot_cfg = self.config["spotter"]
        spotter = self._component("spotter", spot_cfg["name"])
        dec_cfg = self.config["decoder"]
        decoder = self._component("decoder", dec_cfg["name"])
        metric_names = list(self.config["metrics"])
        metrics = {m: self._component("metric", m) for m in metric_names}
        spot_training = dict(spot_cfg.get("training") or {})
        if not select_split:
            spot_training["select"] = "last"
        # spotter.training.seed (default: the run's seed) re-seeds only this stage: the spread of the spotter
        # alone over seeds, on the same cached features
        spot_seed = self.seed if spot_training.get("seed") is None else int(spot_training["seed"])
        spot_key = make_key("train-spotter", [str(f.name) for f in feature_dirs.values()], spot_cfg["name"],
                            spot_cfg.get("settings") or {}, spot_training, spot_seed, num_outputs,
                            (dec_cfg if select_split else None), code_version(spotter), __version__)

        def _n_frames(video) -> int:
            first = modality_of[next(iter(experts_cfg))]
            return int(np.load(pre_dir / pre_index[video.video_id][first], mmap_mode="r").shape[0])

        def decode_fn(probs, offsets, n_frames):
            return decoder.decode(probs, offsets, self.clips, dec_cfg.get("settings") or {}, n_frames=n_frames)

        def do_train_spotter(folder: Path):
            import torch

            from spotters.training import train_spotter

            train_data = []
            for v in videos["train"]:
                labels = self.clips.clip_labels(frame_labels(v.annotations, _n_frames(v)))
                train_data.append((features(v), labels))
            val_data, score_fn = None, None
            if select_split:
                val_data = [(v.video_id, features(v), _n_frames(v)) for v in videos[select_split]]
                gt = {v.video_id: [list(a) for a in v.annotations or ()] for v in videos[select_split]}
                primary = metrics[metric_names[0]]
                score_fn = lambda preds: primary.compute(gt, preds)  # noqa: E731
            result = train_spotter(spotter, spot_cfg.get("settings") or {}, spot_training, train_data, num_outputs,
                                   self.clips, val_data=val_data, decode_fn=decode_fn if select_split else None,
                                   score_fn=score_fn, device=self.device, seed=spot_seed,
                                   on_epoch=self._epoch_hook("train-spotter"), progress=self.progress)
            torch.save(result["state_dict"], folder / "spotter.pt")
            return {"params": {"feature_dim": feature_dim, "best_epoch": result.get("best_epoch")},
                    "metrics": {"best_epoch": result.get("best_epoch", -1)}}

        say(f"train spotter {spot_cfg['name']} on {feature_dim}-d features")
        spot_dir, _ = self._stage("train-spotter", spot_key, do_train_spotter)

        # 5. decode --------------------------------------------------------------------------------------------
        dec_key = make_key("decode", spot_key, dec_cfg, eval_split, code_version(decoder))

        def do_decode(folder: Path):
            import torch

            from spotters.inference import load_model, predict_batch_with_model
            from spotters.outputs import write_predictions

            state = torch.load(spot_dir / "spotter.pt", map_location="cpu", weights_only=True)
            model = load_model(spotter, spot_cfg.get("settings") or {}, state, feature_dim, num_outputs, self.device)
            preds = {}
            from tqdm import tqdm

            todo = list(videos[eval_split])
            with tqdm(total=len(todo), desc="decode", unit="video", leave=False, disable=not self.progress) as bar:
                for start in range(0, len(todo), 16):  # 16 videos' features in memory, one forward pass
                    chunk = todo[start:start + 16]
                    outputs = predict_batch_with_model(model, [features(v) for v in chunk], self.device)
                    for v, (probs, offsets) in zip(chunk, outputs):
                        preds[v.video_id] = decode_fn(probs, offsets, _n_frames(v))
                    bar.update(len(chunk))
            write_predictions(preds, folder / "predictions.pkl")
            return {"params": {"split": eval_split, "videos": len(preds)}}

        dec_dir, _ = self._stage("decode", dec_key, do_decode)

        # 6. score ---------------------------------------------------------------------------------------------
        from benchmark.safe_pickle import load_annotations

        self.pm.notify("stage_started", run=self.ctx, stage="score")
        t_score = time.perf_counter()
        predictions = load_annotations(dec_dir / "predictions.pkl")
        gt = {v.video_id: [list(a) for a in v.annotations or ()] for v in videos[eval_split]}
        scores = {name: metric.compute(gt, predictions) for name, metric in metrics.items()}
        primary = scores[metric_names[0]]
        summary = {k: float(v) for k, v in primary.items() if _is_number(v)}
        for name in metric_names[1:]:
            for k, v in scores[name].items():
                if _is_number(v):
                    summary[f"{name}.{k}"] = float(v)
        artifacts = self._write_outputs(dataset, gt, predictions, scores, dec_dir)
        summary.update({"eval_split": eval_split, "artifacts": artifacts, "output_dir": str(self.output_dir)})
        self.pm.notify("stage_finished", run=self.ctx, stage="score",
                       result=StageResult("score", dec_key, False, time.perf_counter() - t_score,
                                          metrics={k: v for k, v in summary.items() if _is_number(v)}))
        return summary

    def _write_outputs(self, dataset, gt, predictions, scores, dec_dir: Path) -> list[Path]:
        import shutil

        from spotters.outputs import per_class_report, timeline_plot

        out = self.output_dir
        shutil.copyfile(dec_dir / "predictions.pkl", out / "predictions.pkl")
        atomic_write_text(out / "scores.json", json.dumps(_jsonable(scores), indent=2))
        rows = per_class_report(gt, predictions, dataset.class_names)
        atomic_write_text(out / "per_class.json", json.dumps(_jsonable(rows), indent=2))
        artifacts = [out / "config.yaml", out / "predictions.pkl", out / "scores.json", out / "per_class.json"]
        plots = out / "timelines"
        plots.mkdir(exist_ok=True)
        for vid in sorted(gt)[:20]:
            path = plots / f"{vid}.png"
            timeline_plot(vid, gt[vid], predictions.get(vid, []), dataset.class_names, path)
            artifacts.append(path)
        return artifacts


def plugin_versions(pm) -> list[dict]:
    return [{"name": p.name, "distribution": p.distribution or "signspot-bench", "version": p.version,
             "status": p.status} for p in pm.plugins()]


def _with_dependencies(names: set[str], modalities) -> set[str]:
    todo, out = list(names), set()
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        todo.extend(getattr(modalities.get(name), "requires", ()) or ())
    return out


def _labelled(videos) -> bool:
    return bool(videos) and all(v.annotations is not None for v in videos)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-")[:60]


def _progress(items, desc: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="video", leave=False)
