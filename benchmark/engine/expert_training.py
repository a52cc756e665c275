"""Stage 1 training: an expert as a clip classifier over ``num_outputs`` classes (61 for MSSL), two rounds.

Rounds (REFERENCE.md): round 1 trains on the clips whose label is a query sign (label != 0) only; round 2 on
all clips, starting from round 1's weights, with a fresh optimiser and schedule.  ``rounds: 1`` runs only the
all-clips round (from ``init_state`` when given, else from the built / pretrained model).  Each round runs
``epochs`` epochs with cross-entropy, the entry's optimiser (adam | adamw | sgd), lr, weight decay and a
MultiStepLR(milestones, gamma) stepped per epoch; ``max_clips_per_epoch`` draws that many clips per epoch
(CPU profile).  Determinism: every round reseeds torch with ``seed + round`` and draws its clip order and
augmentations from ``numpy.random.default_rng([seed, round])``, so round 2 depends only on round 1's
weights and the seed (which is what the test checks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from benchmark.engine.clips import IGNORE
from benchmark.errors import BenchError
from benchmark.interfaces import EpochCallback, Expert, Modality
from benchmark.runtime import accelerator
from benchmark.runtime.accelerator import Runtime
from benchmark.runtime.progress import bar
from benchmark.runtime.torch_setup import choose_device, make_optimizer, make_scheduler

log = logging.getLogger(__name__)


def training_for(
    expert: Expert, expert_training: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict:
    """The complete training settings of one expert of an entry, in precedence order: the entry's (complete)
    ``expert_training`` < the expert's :attr:`~benchmark.interfaces.Expert.training_defaults` (ST-GCN trains
    with Adam 5e-4 whatever the other experts use) < the entry's per-expert ``training``."""
    return {**dict(expert_training), **expert.training_defaults, **dict(overrides or {})}


def prepare_model(model, expert: Expert, rt: Runtime):
    """On the device, channels-last-3D for video models where the runtime says
    (:mod:`benchmark.runtime.accelerator`)."""
    return accelerator.prepare(model, rt, expert.input_kind == "video")


def to_device_input(x, expert: Expert, rt: Runtime):
    """The batch on the device, in the memory format :func:`prepare_model` gave the model."""
    return accelerator.to_device(x, rt)


def train_step(
    model, expert: Expert, windows, labels, opt, loss_fn, training: Mapping[str, Any], rt: Runtime, rng, scaler=None
):
    """One optimiser step on a batch of clip windows (train-time augmentation); returns ``(loss, logits)``.
    ``bench perf experts`` times this very function."""
    x = to_device_input(expert.clip_input(windows, True, training, rng), expert, rt)
    with accelerator.autocast(rt):
        _, logits = model(x)
    loss = loss_fn(logits.float(), labels)  # the loss in float32, whatever the forward ran in
    accelerator.backward_step(loss, opt, scaler)
    return loss, logits


def _same(items):
    """The DataLoader's collate: the batch is already one array (``ClipIndex.__getitems__``)."""
    return items


class ClipIndex:
    """All clips of all videos as ``(video, clip)`` pairs with their labels and frame windows (clips of ignored
    spans left out)."""

    def __init__(self, videos: Sequence[tuple[np.ndarray, np.ndarray]], clips):
        self.arrays, self.windows, vids, cids, labels = [], [], [], [], []
        for v, (frame_labels, array) in enumerate(videos):
            n_frames = len(frame_labels)
            if len(array) != n_frames:
                raise BenchError(f"video {v}: {len(array)} modality frames but {n_frames} frame labels")
            lab = clips.clip_labels(np.asarray(frame_labels))
            kept = np.flatnonzero(lab != IGNORE)  # clips of ignored spans are neither positives nor negatives
            self.arrays.append(array)
            self.windows.append(clips.window_indices(n_frames))
            vids.append(np.full(len(kept), v))
            cids.append(kept)
            labels.append(lab[kept])
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64)
        self.video, self.clip, self.label = cat(vids).astype(np.int64), cat(cids).astype(np.int64), cat(labels)

    def __len__(self) -> int:
        return len(self.label)

    def batch(self, rows: np.ndarray) -> np.ndarray:
        """Stacked windows ``[B, L, ...]`` of the clips at ``rows``: one fancy-indexed read per video (only those
        frames are read from the memory-mapped arrays), no loop over clips."""
        rows = np.asarray(rows, dtype=np.int64)
        videos = self.video[rows]
        first = self.arrays[int(videos[0])]
        out = np.empty((len(rows), self.windows[int(videos[0])].shape[1], *first.shape[1:]), dtype=first.dtype)
        for v in np.unique(videos):
            at = np.flatnonzero(videos == v)
            out[at] = self.arrays[int(v)][self.windows[int(v)][self.clip[rows[at]]]]
        return out

    def __getitems__(self, rows) -> np.ndarray:
        """A DataLoader's batched fetch (torch >= 2.1): the whole batch in one call."""
        return self.batch(np.asarray(rows))

    def __getitem__(self, row: int) -> np.ndarray:
        return self.batch(np.asarray([row]))[0]


def _check_labels(labels: np.ndarray, num_outputs: int) -> None:
    if len(labels) and (labels.max() >= num_outputs or labels.min() < 0):
        raise BenchError(f"clip labels range {labels.min()}..{labels.max()} does not fit {num_outputs} outputs")


def _cpu_state(model) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def run_round(
    model,
    expert: Expert,
    index: ClipIndex,
    rows: np.ndarray,
    training: Mapping[str, Any],
    rt: Runtime,
    seed: int,
    round_no: int,
    on_epoch: EpochCallback | None,
    progress: bool,
) -> None:
    """Train ``model`` in place on the clips at ``rows`` for ``epochs`` epochs, reporting each epoch's metrics
    as ``round<N>/<metric>``."""
    import torch

    torch.manual_seed(seed + round_no)
    rng = np.random.default_rng([seed, round_no])
    opt = make_optimizer(model.parameters(), training, "expert_training")
    sched = make_scheduler(opt, training)
    loss_fn = torch.nn.CrossEntropyLoss()
    scaler = accelerator.grad_scaler(rt)
    step = partial(
        train_step, model, expert, opt=opt, loss_fn=loss_fn, training=training, rt=rt, rng=rng, scaler=scaler
    )
    stage = f"round{round_no}"
    for epoch in range(1, int(training["epochs"]) + 1):
        model.train()
        batches = _epoch_batches(rows, rng, int(training["batch_size"]), training["max_clips_per_epoch"])
        t0 = time.perf_counter()
        # clips are read by the loader's workers, in batch order; augmentation draws stay here, in that order
        loaded = accelerator.loader(index, batches, rt, _same)
        desc = f"{expert.name} {stage} epoch {epoch}"
        batches_bar = bar(zip(batches, loaded), desc=desc, unit="batch", total=len(batches), enabled=progress)
        seen, loss_sum, correct = _train_batches(index, batches_bar, step, rt)
        sched.step()
        metrics = _epoch_metrics(seen, loss_sum, correct, opt, time.perf_counter() - t0)
        log.info(
            "%s %s epoch %d: loss %.4f acc %.3f (%d clips, %.1f clips/s)",
            expert.name,
            stage,
            epoch,
            metrics["loss"],
            metrics["accuracy"],
            seen,
            metrics["clips_per_s"],
        )
        if on_epoch is not None:
            on_epoch(epoch, {f"{stage}/{k}": v for k, v in metrics.items()})


def _epoch_batches(rows: np.ndarray, rng, batch_size: int, cap) -> list[np.ndarray]:
    """The clips of one epoch in a random order (the first ``cap`` when set), cut into batches; BatchNorm cannot
    train on a single clip, so a last batch of one is left out."""
    order = rows[rng.permutation(len(rows))]
    if cap:
        order = order[: int(cap)]
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    return [b for b in batches if len(b) >= 2 or len(order) <= 1]


def _train_batches(index: ClipIndex, batches, step, rt: Runtime) -> tuple[int, float, int]:
    """One optimiser ``step`` per ``(rows, windows)`` batch; the clips seen, their summed loss and the correct
    predictions."""
    import torch

    seen, loss_sum, correct = 0, 0.0, 0
    for sel, windows in batches:
        y = torch.from_numpy(index.label[sel]).to(rt.device)
        loss, logits = step(np.asarray(windows), y)
        n = len(sel)
        seen += n
        loss_sum += float(loss.detach()) * n
        correct += int((logits.detach().argmax(1) == y).sum())
        batches.set_postfix(loss=f"{loss_sum / seen:.3f}")
    return seen, loss_sum, correct


def _epoch_metrics(seen: int, loss_sum: float, correct: int, opt, secs: float) -> dict[str, float]:
    """An epoch's metrics as ``on_epoch`` reports them (``lr`` as the next epoch will use it)."""
    return {
        "loss": loss_sum / max(seen, 1),
        "accuracy": correct / max(seen, 1),
        "lr": opt.param_groups[0]["lr"],
        "clips": float(seen),
        "epoch_seconds": secs,
        "clips_per_s": seen / secs if secs > 0 else 0.0,
    }


def train_expert(
    expert: Expert,
    settings: Mapping[str, Any],
    training: Mapping[str, Any],
    videos,
    clips,
    num_outputs: int,
    *,
    modality: Modality,
    device: str = "cpu",
    seed: int = 0,
    on_epoch: EpochCallback | None = None,
    progress: bool = True,
    init_state: Mapping[str, Any] | None = None,
    return_rounds: bool = False,
    runtime: Mapping[str, Any] | Runtime | None = None,
):
    """Train ``expert`` and return its final state dict (CPU tensors).

    ``settings``: the entry's expert settings; ``training``: the complete training settings
    (:func:`training_for`); ``videos``: ``[(frame_labels [T], modality array [T, ...]), ...]``; ``clips``: a
    :class:`benchmark.engine.clips.ClipSpec`; ``modality``: what the arrays are (its channels are the model's input
    channels).  ``init_state``: weights to start from instead of the built (pretrained) model's.
    ``return_rounds``: return ``{"round1": state or None, "round2": state}`` instead.  ``runtime``: the entry's
    ``runtime`` section (:mod:`benchmark.runtime.accelerator`; None: what suits the device).
    """
    device = choose_device(device)
    rt = accelerator.runtime(device, runtime)
    accelerator.configure(rt, seed)
    rounds = int(training["rounds"])
    if rounds not in (1, 2):
        raise BenchError(f"expert_training.rounds must be 1 or 2, got {rounds}")
    index = ClipIndex(videos, clips)
    if not len(index):
        raise BenchError(f"expert {expert.name}: no clips to train on ({len(videos)} videos)")
    _check_labels(index.label, num_outputs)
    model = _initial_model(expert, settings, modality, num_outputs, init_state, rt, seed)
    log.info(
        "training expert %s on %s: %d clips (%d query-sign), %d round(s)",
        expert.name,
        device,
        len(index),
        int((index.label != 0).sum()),
        rounds,
    )
    states = {"round1": None, "round2": None}
    if rounds == 2:
        states["round1"] = _query_sign_round(model, expert, index, training, rt, seed, on_epoch, progress)
    run_round(model, expert, index, np.arange(len(index)), training, rt, seed, 2, on_epoch, progress)
    states["round2"] = _cpu_state(model)
    return states if return_rounds else states["round2"]


def _initial_model(expert: Expert, settings, modality: Modality, num_outputs: int, init_state, rt: Runtime, seed: int):
    """The model training starts from, on the device: built under ``seed`` (its random initialisation), then
    ``init_state``'s weights when given, else the built model's own (pretrained where the expert has them)."""
    import torch

    torch.manual_seed(seed)
    model = expert.build(num_outputs, settings, modality, pretrained=init_state is None)
    if init_state is not None:
        from benchmark.engine.checkpoints import load_into

        load_into(model, init_state, strict=True, source="init_state")
    return prepare_model(model, expert, rt)


def _query_sign_round(model, expert: Expert, index: ClipIndex, training, rt: Runtime, seed: int, on_epoch, progress):
    """Round 1, on the query-sign clips only: its weights (CPU), or None when there is no such clip."""
    fg = np.flatnonzero(index.label != 0)
    if not len(fg):
        log.warning("expert %s: no query-sign clips, skipping round 1", expert.name)
        return None
    run_round(model, expert, index, fg, training, rt, seed, 1, on_epoch, progress)
    return _cpu_state(model)
