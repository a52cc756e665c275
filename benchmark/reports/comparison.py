"""``bench compare A B``: two runs (or entries, or sweep configurations) on the same test videos, paired.

A side is a run's output folder, a tracked run's id, an entry's name (its finished runs that changed nothing
but the seed: ``bench run``s and the trials of seed-only sweeps, one per seed, on the dataset, entry version
and profile of the newest one or the profile asked for), or, with a sweep's run id, one of its configurations
(its finished trials, one per seed).  A run's seed, as pairing reads it, is its run seed (which trains the
experts), followed by ``/spotter seed`` when the spotter was seeded apart: ``0/2`` is spotter seed 2 on the
experts of run seed 0, so a spotter-seed sweep and a run-seed sweep pair only where they ran the same thing.  Each run
brings its per-video counts (``per_video.json``, written by the score stage) and its per-class table; the
difference in F1 is tested per video (:func:`benchmark.metrics.uncertainty.paired_difference`), with seeds
paired when both sides ran the same seeds.  Runs on different dataset fingerprints or entry versions are not
comparable: refused unless ``force``.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.errors import BenchError
from benchmark.stages.names import PER_VIDEO

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
SIGNER = re.compile(r"^(p\d+)_")  # MSSL's video names: p01_n032 is signer p01 (the synthetic signer's too)
SEED_ONLY = re.compile(r"^(seed|spotter\.training\.seed)=")


@dataclass
class Run:
    """One finished run as a comparison reads it."""

    label: str
    seed: int | None
    counts: dict[str, list[int]]  # video -> [tp, fp, fn] of the primary metric
    per_class: list[dict] = field(default_factory=list)
    fingerprint: str | None = None
    benchmark: str | None = None
    version: str | None = None


@dataclass
class Side:
    label: str
    runs: list[Run]

    @property
    def identity(self) -> tuple:
        return self.runs[0].fingerprint, self.runs[0].benchmark, self.runs[0].version


def seed_label(run_seed, spotter_seed=None) -> int | str | None:
    """``run_seed``, or ``"run/spotter"`` when the spotter's seed was set apart from it (see the module)."""
    if run_seed in (None, ""):
        return None
    run_seed = int(run_seed)
    spotter = run_seed if spotter_seed in (None, "", "null", "None") else int(spotter_seed)
    return run_seed if spotter == run_seed else f"{run_seed}/{spotter}"


def from_folder(path: Path) -> Run:
    """A run's output folder (``bench run`` printed it)."""
    counts_file = path / PER_VIDEO
    if not counts_file.is_file():
        raise BenchError(
            f"{path}: no {PER_VIDEO}: not a run's output folder, or a run from before per-video counts were "
            "written; run it again to compare it"
        )
    summary = _read(path / "summary.json")
    return Run(
        str(path),
        seed_label(summary.get("seed"), summary.get("spotter_seed")),
        _read(counts_file)["counts"],
        _read(path / "per_class.json") or [],
        summary.get("dataset_fingerprint"),
        summary.get("benchmark"),
        _text(summary.get("entry_version")),
    )


def from_tracker(client, run) -> Run:
    """A tracked run: its artifacts downloaded, its identity from its tags."""
    tags = run.data.tags
    with tempfile.TemporaryDirectory() as tmp:
        try:
            counts = _read(Path(client.download_artifacts(run.info.run_id, PER_VIDEO, tmp)))["counts"]
        except Exception as exc:  # MLflow raises several kinds for a missing artifact
            raise BenchError(
                f"run {run.info.run_id}: no {PER_VIDEO} artifact ({exc}); run it again to compare it"
            ) from None
        try:
            per_class = _rows(_read(Path(client.download_artifacts(run.info.run_id, "per_class.json", tmp))))
        except Exception:  # optional: the per-class view is left out
            per_class = []
    params = run.data.params
    return Run(
        run.info.run_id[:8],
        seed_label(params.get("seed", tags.get("seed")), params.get("spotter.training.seed")),
        counts,
        per_class or [],
        tags.get("dataset_fingerprint"),
        tags.get("benchmark"),
        tags.get("entry_version"),
    )


def load_side(name: str, profile: str | None = None) -> Side:
    """``name``: a run folder, a tracked run id, or an entry name (its seed runs; of ``profile`` when given)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return Side(name, [from_folder(path)])
    from mlflow.tracking import MlflowClient

    from benchmark.tracking.store import tracking_uri

    client = MlflowClient(tracking_uri())
    if RUN_ID.match(name):
        return Side(name[:8], [from_tracker(client, client.get_run(name))])
    return Side(name, [from_tracker(client, r) for r in entry_runs(client, name, profile)])


def sweep_side(sweep_run_id: str, config: str) -> Side:
    """The finished trials of configuration ``config`` (as the sweep's table names it) of a tracked sweep."""
    from mlflow.tracking import MlflowClient

    from benchmark.tracking.compare import sweep_table
    from benchmark.tracking.store import tracking_uri

    _, trials, uri = sweep_table(sweep_run_id)
    chosen = [t for t in trials if t["config"] == config and t["status"] == "FINISHED"]
    if not chosen:
        known = ", ".join(sorted({repr(t["config"]) for t in trials})) or "none"
        raise BenchError(
            f"sweep {sweep_run_id}: no finished trial of configuration {config!r}; its configurations: {known}"
        )
    client = MlflowClient(uri or tracking_uri())
    runs = []
    for trial in sorted(chosen, key=lambda t: t["seed"]):
        run = from_tracker(client, client.get_run(trial["run_id"]))
        run.seed = trial["seed"]  # the sweep's seed (a spotter seed when the sweep varies only the spotter)
        runs.append(run)
    return Side(config, runs)


def entry_runs(client, entry: str, profile: str | None = None) -> list:
    """The entry's finished runs that changed only the seed (``bench run``s, and the trials of sweeps over
    seeds alone): the newest per seed, on the dataset, entry version and profile of the newest one (of
    ``profile`` when given)."""
    experiment = client.get_experiment_by_name(entry)
    if experiment is None:
        raise BenchError(
            f"{entry!r}: not a run folder, a run id, nor an entry with tracked runs; `bench compare` lists them"
        )
    runs = client.search_runs(
        [experiment.experiment_id],
        "attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1000,
    )
    plain = [r for r in runs if _seed_only_run(r.data.tags) and profile in (None, r.data.tags.get("profile"))]
    if not plain:
        which = f" with --profile {profile}" if profile else ""
        raise BenchError(
            f"entry {entry!r}: no finished `bench run {entry}` (or `bench sweep {entry} --seeds ...` trial) "
            f"changing only the seed is tracked{which}"
        )
    newest = plain[0].data.tags
    same = [
        r
        for r in plain
        if all(r.data.tags.get(k) == newest.get(k) for k in ("dataset_fingerprint", "entry_version", "profile"))
    ]
    by_seed: dict[object, object] = {}
    for run in same:
        params = run.data.params
        by_seed.setdefault(seed_label(params.get("seed"), params.get("spotter.training.seed")), run)
    from benchmark.metrics.uncertainty import seed_order

    return [by_seed[label] for label in sorted(by_seed, key=seed_order)]


def _seed_only_run(tags: dict) -> bool:
    """A ``bench run`` or a trial of a sweep over seeds alone (its one configuration: ``base``), that set
    nothing but seeds."""
    kind = tags.get("signspot.kind")
    if kind == "sweep-trial" and tags.get("sweep.config") != "base":
        return False
    return kind in ("bench-run", "sweep-trial") and _seed_only(tags.get("signspot.overrides", "none"))


def _seed_only(overrides: str) -> bool:
    return overrides in ("", "none") or all(SEED_ONLY.match(o.strip()) for o in overrides.split(";"))


def compare(a: Side, b: Side, *, force: bool = False) -> dict:
    """The contract of ``bench compare A B --json``: ``f1_a``, ``f1_b``, ``f1_ci_a``, ``f1_ci_b``,
    ``delta_f1``, ``delta_ci``, ``p_value``, ``verdict``; plus the videos, seeds and per-class F1 side by side."""
    from benchmark.metrics.uncertainty import bootstrap_ci, paired_by_seed, paired_difference, point

    refuse_unless_comparable(a, b, force)
    videos = sorted(a.runs[0].counts)
    for side in (a, b):
        for run in side.runs:
            if sorted(run.counts) != videos:
                raise BenchError(f"{run.label}: scored other test videos than {a.runs[0].label}; cannot pair them")
    counts_a, counts_b = _stacked(a, videos), _stacked(b, videos)
    seeds_a, seeds_b = [r.seed for r in a.runs], [r.seed for r in b.runs]
    paired = paired_difference(*paired_by_seed(counts_a, seeds_a, counts_b, seeds_b))
    return {
        "a": a.label,
        "b": b.label,
        "f1_a": point(counts_a),
        "f1_b": point(counts_b),
        "f1_ci_a": bootstrap_ci(counts_a),
        "f1_ci_b": bootstrap_ci(counts_b),
        **paired,
        "videos": len(videos),
        "seeds_a": [r.seed for r in a.runs],
        "seeds_b": [r.seed for r in b.runs],
        "per_class": per_class(a, b),
        "per_signer": per_signer(videos, counts_a, counts_b),
    }


def refuse_unless_comparable(a: Side, b: Side, force: bool) -> None:
    (fa, ea, va), (fb, eb, vb) = a.identity, b.identity
    problems = []
    if fa != fb:
        problems.append(f"dataset fingerprints differ ({fa} vs {fb}): not the same test videos and labels")
    if ea == eb and va != vb:
        problems.append(f"entry {ea} versions differ ({va} vs {vb}): its numbers are not comparable across versions")
    if problems and not force:
        raise BenchError(
            f"cannot compare {a.label} with {b.label}: " + "; ".join(problems) + " (--force compares anyway)"
        )


def _stacked(side: Side, videos: list[str]):
    import numpy as np

    return np.asarray([[run.counts[v] for v in videos] for run in side.runs], dtype=np.int64)


def per_class(a: Side, b: Side) -> list[dict]:
    """Per class: its name and the pooled F1 of each side (the mean over its runs)."""
    rows: dict[int, dict] = {}
    for key, side in (("f1_a", a), ("f1_b", b)):
        for run in side.runs:
            for row in run.per_class:
                entry = rows.setdefault(int(row["class_id"]), {"class_id": int(row["class_id"]), "name": row["name"]})
                entry.setdefault(key, []).append(float(row["f1"]))
    out = []
    for cid in sorted(rows):
        row = rows[cid]
        out.append({**row, **{k: sum(row[k]) / len(row[k]) for k in ("f1_a", "f1_b") if k in row}})
    return out


def per_signer(videos: list[str], counts_a, counts_b) -> list[dict]:
    """Per signer (MSSL's ``p01_...`` video names; empty when the names carry none): the pooled F1 of each side
    over that signer's test videos (the mean over seeds), the signer-independence view."""
    from benchmark.metrics.uncertainty import point

    signers: dict[str, list[int]] = {}
    for i, video in enumerate(videos):
        match = SIGNER.match(video)
        if match is None:
            return []
        signers.setdefault(match.group(1), []).append(i)
    return [
        {"signer": s, "videos": len(idx), "f1_a": point(counts_a[:, idx]), "f1_b": point(counts_b[:, idx])}
        for s, idx in sorted(signers.items())
    ]


def format_comparison(result: dict, classes: int = 10) -> str:
    """One screen: the headline numbers, the verdict, and the classes that differ most."""
    lines = [
        f"A  {result['a']}: F1 {result['f1_a']:.4f}  95 % CI [{result['f1_ci_a'][0]:.3f}, {result['f1_ci_a'][1]:.3f}]"
        f"  ({len(result['seeds_a'])} run(s))",
        f"B  {result['b']}: F1 {result['f1_b']:.4f}  95 % CI [{result['f1_ci_b'][0]:.3f}, {result['f1_ci_b'][1]:.3f}]"
        f"  ({len(result['seeds_b'])} run(s))",
        f"A - B  {result['delta_f1']:+.4f}  95 % CI [{result['delta_ci'][0]:+.3f}, {result['delta_ci'][1]:+.3f}]"
        f"  p = {result['p_value']:.3g}  over {result['videos']} paired test videos",
        f"verdict: {result['verdict']}",
    ]
    if result.get("per_signer"):
        lines.append(
            "per signer:  "
            + "   ".join(f"{r['signer']} {r['f1_a']:.3f}/{r['f1_b']:.3f}" for r in result["per_signer"])
            + "   (F1 A/B)"
        )
    rows = [r for r in result["per_class"] if "f1_a" in r and "f1_b" in r]
    rows.sort(key=lambda r: -abs(r["f1_a"] - r["f1_b"]))
    if rows:
        lines.append(f"classes differing most (of {len(rows)}):    F1 A    F1 B")
        for r in rows[:classes]:
            lines.append(f"  {str(r['name'])[:32]:32s}  {r['f1_a']:.3f}   {r['f1_b']:.3f}")
    return "\n".join(lines)


def _rows(table) -> list[dict]:
    """Rows of a JSON table as the run folder has it (a list of dicts) or as MLflow logged it (``columns`` and
    ``data``)."""
    if isinstance(table, dict) and "columns" in table and "data" in table:
        return [dict(zip(table["columns"], row)) for row in table["data"]]
    return list(table) if isinstance(table, list) else []


def _read(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise BenchError(f"{path}: not valid JSON ({exc})") from None


def _text(value) -> str | None:
    return None if value is None else str(value)
