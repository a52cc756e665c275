"""``bench spot``: apply a finished run's trained pipeline to new videos or ``.pose`` files.

The run's tracker hands over its *pipeline bundle* (hook ``fetch_pipeline``): the resolved configuration, the
class names, and each trained expert's and the spotter's weights with what rebuilds them (``model.json``).
The inputs are preprocessed with the run's preprocessing settings (cached like any run's, keyed by their
content), every expert extracts its clip features, the spotter and the run's decoder spot the signs, and each
input gets an ELAN file with a tier of spotted signs (an existing ``.eaf`` beside it is copied with the tier
added, never overwritten) and/or a JSON or CSV of the segments with their scores.  Times are milliseconds in
the input's own time line (frames of the entry's ``preprocess.fps``, 40 ms at the default 25 fps).

A corpus, not one file:

* every input is checked before any work (a video's header and first frame, a ``.pose`` file read whole, the
  ``.eaf`` beside it parsed when an ``.eaf`` is written): ``on_bad_video="fail"`` lists every bad file in one
  error and starts nothing; ``"skip"`` names them in a warning and spots the others;
* inputs are preprocessed together (a process pool, cached per video), then feature extraction, the spotter
  and the decoder run per batch of :data:`benchmark.stages.decode.BATCH_VIDEOS` inputs (the decode stage's
  batches: the spotter's padding stays the run's, so the run's own test videos give its test predictions)
  and each batch's outputs are written (atomically) as soon as it finishes: a killed batch keeps them;
* resuming: after an input's outputs, a stamp ``.<id>.spot.json`` is written beside them in ``--out``,
  holding the bundle's id (sha256 of its configuration, classes, ``model.json`` and weight files, so
  ``--run RUN_ID`` and ``--run FOLDER`` of one run agree), the sha256 of the input's video and ``.pose``
  file, the tier, the formats and the sha256 of every output.  An input whose stamp matches all of that,
  with every output unchanged, is not recomputed; anything else (another run, an edited video, another
  ``--tier``, a deleted or edited output) is spotted again.  The JSON output carries the same ``pipeline``
  and ``input_sha256`` fields.

What each segment carries (:class:`Request`): the decoder's score (README "Scores"; in ELAN a dependent
``<tier>-score`` tier, symbolic association, so it shows under the gloss), with ``candidates`` K the next
K-1 classes ranked by their mean probability over the segment's clips (:mod:`benchmark.spot.candidates`;
tiers ``<tier>-2`` .. ``<tier>-K`` and their score tiers), and ``min_score`` leaves out segments and
alternatives scored below it.  ``also``: other runs spotted into the same files, one tier each (a gloss run
and a sign-boundary run in one pass); an input is written once every run has spotted it.  ``start_ms`` /
``end_ms``: each input cut to that range first (:mod:`benchmark.spot.ranges`), its segments shifted back
into the recording's time line.

The written ``.eaf`` links the media it was spotted on (``MEDIA_URL`` absolute, ``RELATIVE_MEDIA_URL``
relative to the ``.eaf``, as ELAN writes them): a copied ``.eaf``'s descriptor of that media is pointed at
it, one is added when absent, and the copy's other relative links are re-based on ``--out``.  A ``.pose``
input without a video links nothing new (ELAN cannot play it).

Weights are read with ``torch.load(weights_only=True)``: a bundle from someone else's tracking server cannot
run code here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmark.errors import BenchError, DataError
from benchmark.spot.inputs import (
    bad_inputs,
    check_out,
    fingerprint,
    frame_modalities,
    input_hashes,
    inputs_of,
    refuse_or_skip,
)
from benchmark.spot.outputs import FORMATS, SpottedRun, segment_rows, write_outputs
from benchmark.spot.ranges import check_range, cut, shifted
from benchmark.spot.resume import already_spotted, bundle_id, output_paths, stamp_for, write_stamp
from benchmark.storage.bundle import Bundle


def find_bundle(pm, run: str, cache_dir=None) -> Bundle:
    """``run``: a tracked run's id (its tracker downloads the bundle into the cache), a run's output folder
    (``<cache>/runs/...``, what ``bench run`` printed) or a bundle folder."""
    from benchmark.storage.cache import StageCache

    path = Path(run).expanduser()
    if path.is_dir():
        return Bundle(path / "pipeline" if (path / "pipeline").is_dir() else path).check()
    destination = StageCache(cache_dir).root / "spot-runs"
    destination.mkdir(parents=True, exist_ok=True)
    for folder in pm.collect("fetch_pipeline", run_id=run, destination=destination):
        if folder:
            return Bundle(Path(folder)).check()
    raise BenchError(
        f"--run {run!r}: no tracker knows this run and it is not a folder: check the run id and "
        "MLFLOW_TRACKING_URI (`bench compare NAME` lists the runs of this store), or pass the run's output folder"
    )


@dataclass(frozen=True)
class Request:
    """What ``bench spot`` writes per input (besides the formats): the main run's tier name (None: ``SIGN`` for
    a one-class sign run, else ``spotted``), ``candidates`` (K: each segment's class and the K-1 next ones),
    ``min_score`` (segments, and alternatives, scored below it are left out) and a range of the inputs."""

    tier: str | None = None
    candidates: int = 1
    min_score: float = 0.0
    start_ms: int | None = None
    end_ms: int | None = None

    def stamp(self) -> dict:
        return {"candidates": self.candidates, "min_score": self.min_score, "range": [self.start_ms, self.end_ms]}


def default_tier(bundle: Bundle) -> str:
    """``SIGN`` for a one-class run on ``labels: sign`` data (a sign-boundary tier), else ``spotted``."""
    from benchmark.datasets.elan.glosses import SIGN

    return SIGN if list(bundle.class_names) == [SIGN] else "spotted"


def spot(
    pm,
    bundle: Bundle,
    inputs: list[Path],
    out: Path,
    *,
    formats=("eaf", "json"),
    cache_dir=None,
    device: str = "auto",
    progress: bool = True,
    tier: str | None = None,
    on_bad_video: str = "fail",
    echo=print,
    also: tuple[Bundle, ...] = (),
    request: Request | None = None,
) -> list[Path]:
    """Spot the signs of ``inputs`` with the bundle's pipeline (and each of ``also``'s, one tier each); the output
    files of every input spotted (written now or kept from an earlier, identical run)."""
    from benchmark.runtime.torch_setup import choose_device

    request = request or Request()
    if tier is not None:  # the keyword of callers from before Request
        request = replace(request, tier=tier)
    _check_request(formats, on_bad_video, request)
    out, bundles = Path(out), [bundle, *also]
    tiers = [request.tier or default_tier(bundle), *(default_tier(b) for b in also)]
    videos = inputs_of(inputs)
    check_out(videos, out, formats)
    needs_video = sorted({m for b in bundles for m in frame_modalities(b.config, pm.components)})
    videos = refuse_or_skip(bad_inputs(videos, formats, needs_video), videos, on_bad_video, echo)
    if not videos:
        raise DataError("no input left to spot: every one was skipped (see the warning above)")
    pipelines = [bundle_id(b) for b in bundles]
    hashes = {v.video_id: input_hashes(v) for v in videos}
    extra = {**request.stamp(), "also": [[p, t] for p, t in zip(pipelines[1:], tiers[1:])]}
    stamps = {v.video_id: {**stamp_for(pipelines[0], hashes[v.video_id], tiers[0], formats), **extra} for v in videos}
    todo = [v for v in videos if not already_spotted(out, v.video_id, stamps[v.video_id])]
    if len(todo) < len(videos):
        echo(f"{len(videos) - len(todo)} of {len(videos)} inputs already spotted in {out} by this pipeline: kept")
    done = {v.video_id for v in videos} - {v.video_id for v in todo}
    if todo:
        contexts = [_Context(pm, b, choose_device(device), cache_dir, progress, echo, request) for b in bundles]
        writer = _Writer(out, formats, tiers, pipelines, stamps)
        done |= _run(contexts, todo, hashes, request, on_bad_video, writer, progress)
    return [p for v in videos if v.video_id in done for p in output_paths(out, v.video_id, formats)]


def _check_request(formats, on_bad_video: str, request: Request) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise BenchError(f"--format {unknown[0]!r}: expected one of {', '.join(FORMATS)}")
    if on_bad_video not in ("fail", "skip"):
        raise BenchError(f"--on-bad-video must be 'fail' or 'skip', got {on_bad_video!r}")
    if request.candidates < 1:
        raise BenchError(f"--candidates must be >= 1, got {request.candidates}")
    if not 0.0 <= request.min_score <= 1.0:
        raise BenchError(f"--min-score must lie in [0, 1] (the decoders' scores do), got {request.min_score}")
    check_range(request.start_ms, request.end_ms)


def _run(contexts, todo, hashes, request: Request, on_bad_video: str, writer, progress: bool) -> set:
    """Cut the inputs to the range, preprocess them for every pipeline, then spot and write batch by batch (each
    batch's outputs written as soon as every pipeline has spotted it); the ids written."""
    from benchmark.runtime.progress import bar
    from benchmark.stages.decode import BATCH_VIDEOS
    from benchmark.storage.cache import StageCache

    folder = StageCache(contexts[0].cache_dir).root / "spot-parts"
    parts = {v.video_id: cut(v, request.start_ms, request.end_ms, folder) for v in todo}
    cut_hashes = {  # what is preprocessed: the parts when a range is given
        v.video_id: hashes[v.video_id] if parts[v.video_id].record is v else input_hashes(parts[v.video_id].record)
        for v in todo
    }
    records = [parts[v.video_id].record for v in todo]
    ready = [c.prepare(records, fingerprint(cut_hashes), on_bad_video) for c in contexts]
    kept = set.intersection(*({v.video_id for v in r} for r in ready))
    originals = [v for v in todo if v.video_id in kept]
    written: set[str] = set()
    with bar(total=len(originals), desc="spot", enabled=progress) as shown:
        for at in range(0, len(originals), BATCH_VIDEOS):
            chunk = originals[at : at + BATCH_VIDEOS]
            per_run = [c.segments([parts[v.video_id].record for v in chunk]) for c in contexts]
            for video in chunk:
                offset = parts[video.video_id].offset_ms
                found = [shifted(segments[video.video_id], offset) for segments in per_run]
                writer.write(video, found, [c.names for c in contexts])
                written.add(video.video_id)
                shown.update(1)
    return written


class _Writer:
    """One input's outputs: every run's segments as its own tier (the first run's are the JSON's ``segments``)."""

    def __init__(self, out: Path, formats, tiers: list[str], pipelines: list[str], stamps: dict):
        self.out, self.formats, self.tiers, self.pipelines, self.stamps = out, formats, tiers, pipelines, stamps

    def write(self, video, found: list[list], names: list[list[str]]) -> None:
        stamp = self.stamps[video.video_id]
        runs = [
            SpottedRun(tier, pipeline, segment_rows(segments, run_names))
            for tier, pipeline, segments, run_names in zip(self.tiers, self.pipelines, found, names)
        ]
        files = write_outputs(video, runs, self.out, self.formats, stamp)
        write_stamp(self.out, video.video_id, stamp, files)


class _Context:
    """One pipeline of a ``bench spot``: the bundle's models built once, then applied batch by batch through the
    bodies of the run's own stages (preprocessing, :func:`~benchmark.stages.experts.extractor`,
    :func:`~benchmark.stages.decode.decode_batches`): same videos, same segments."""

    def __init__(self, pm, bundle: Bundle, device: str, cache_dir, progress: bool, echo, request: Request):
        self.pm, self.bundle, self.device, self.progress, self.echo = pm, bundle, device, progress, echo
        self.cache_dir, self.request = cache_dir, request
        self.config, self.names = bundle.config, list(bundle.class_names)
        self.data = self.pre = self.models = None

    def prepare(self, todo, fingerprint: str, on_bad_video: str) -> list:
        """Preprocess ``todo`` for this pipeline and build its models; the inputs it can spot."""
        self.data, self.pre = self.preprocess(todo, fingerprint, on_bad_video)
        self.models = self.build()
        return list(self.data.videos["test"])

    def segments(self, chunk) -> dict[str, list]:
        """One batch through the experts, the spotter and the decoder: ``{video_id: segments}`` with each segment's
        alternatives (a 5th element) when ``candidates > 1``, and the ``min_score`` filter applied."""
        from benchmark.engine.clips import ClipSpec
        from benchmark.spot.candidates import alternatives
        from benchmark.stages.decode import decode_batches

        extractors, spotter, decode = self.models
        k, floor, clips = self.request.candidates, self.request.min_score, ClipSpec.from_config(self.config)

        def features(video):
            return np.concatenate([extract(self.pre.array(video.video_id, m)) for m, extract in extractors], axis=1)

        def decode_one(probs, offsets, n_frames, *levels):
            segments = [list(s) for s in decode(probs, offsets, n_frames, *levels)]
            segments = [s for s in segments if len(s) < 4 or s[3] is None or s[3] >= floor]
            for segment, alts in zip(segments, alternatives(probs, segments, clips, k)):
                segment[4:] = [[a for a in alts if a[1] >= floor]]
            return segments

        out: dict[str, list] = {}
        for _, found in decode_batches(spotter, decode_one, chunk, features, self.data.n_frames, self.device):
            out.update(found)
        return out

    def preprocess(self, todo, fingerprint: str, on_bad_video: str):
        """The preprocessing stage on the inputs (cached like a run's, keyed by their content)."""
        from benchmark.stages.base import Stages
        from benchmark.stages.handoffs import RunData
        from benchmark.stages.preprocess import preprocess
        from benchmark.storage.cache import StageCache

        config = self.config
        config["preprocess"] = {**config["preprocess"], "on_bad_video": on_bad_video}
        data = RunData("spot", None, fingerprint, tuple(self.names), {"train": (), "test": tuple(todo)}, "test", None)
        stages = Stages(
            StageCache(self.cache_dir), self.pm.components, None, None, device=self.device,
            progress=self.progress, echo=self.echo,
        )  # fmt: skip
        pre = preprocess(stages, data, config)
        skipped = {v: why for v, why in pre.skipped.items() if v in {t.video_id for t in todo}}
        if skipped and on_bad_video == "fail":  # found bad while decoding, by this run or an earlier skip
            listing = "\n".join(f"  {why}" for why in skipped.values())
            raise DataError(f"{len(skipped)} inputs cannot be decoded:\n{listing}\n--on-bad-video skip leaves them out")
        for video_id, why in skipped.items():
            self.echo(f"warning: skipped {video_id} (--on-bad-video skip): {why}")
        return pre.restrict(data), pre

    def build(self):
        """Each expert's feature extractor (with the modality it reads), the spotter and the decoder, built once."""
        from benchmark.stages.experts import extractor
        from benchmark.stages.spotter import decode_function

        config, components = self.config, self.pm.components
        extractors = []
        for eid in self.bundle.expert_ids:
            meta, state = self.bundle.model(f"experts/{eid}")
            expert = components("expert").get(meta["name"])
            modality = components("modality").get(meta["modality"])
            extract = extractor(expert, modality, meta["settings"], state, config, eid, self.device)
            extractors.append((meta["modality"], extract))
        spotter = self.bundle.build("spotter", components, self.device)
        decode = decode_function(components("decoder").get(config["decoder"]["name"]), config)
        return extractors, spotter, decode
