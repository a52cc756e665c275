"""Stage 2 training: batches of whole videos, classification + regression loss (the spotter's own when it has
one, e.g. the pyramid spotters'), optimiser and step schedule from the entry's ``spotter.training``, validation F1
per epoch and best/last checkpoint selection."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from benchmark.engine.clips import IGNORE
from benchmark.errors import BenchError
from benchmark.interfaces import EpochCallback
from benchmark.runtime.progress import bar
from benchmark.runtime.torch_setup import choose_device, make_optimizer, make_scheduler


class Batch(NamedTuple):
    """Padded training videos, as a loss receives them (see :func:`loss_function`)."""

    features: Any  # float [B, T, D]
    lengths: Any  # int64 [B]
    labels: Any  # int64 [B, T]: clip labels (0 = background, class + 1 in a sign)
    offsets: Any  # float [B, T, 2]: per-clip distances to the run's first and last clip (offset_clamp applied)
    valid: Any  # bool [B, T]: t < lengths[b]
    foreground: Any  # bool [B, T]: labels > 0


def pad_batch(items: Sequence[tuple], device) -> Batch:
    """Stack videos ``(features [N, D], labels [N], offsets [N, 2], fg [N][, kept [N]])`` into padded tensors;
    ``valid`` is False on padding and on clips not ``kept`` (ignored spans: no loss either way)."""
    import torch

    lengths = [int(it[0].shape[0]) for it in items]
    b, t, d = len(items), max(lengths), int(items[0][0].shape[1])
    x = torch.zeros(b, t, d)
    labels = torch.zeros(b, t, dtype=torch.long)
    offs = torch.zeros(b, t, 2)
    fg = torch.zeros(b, t, dtype=torch.bool)
    kept = torch.zeros(b, t, dtype=torch.bool)
    for i, (f, lab, off, g, *keep) in enumerate(items):
        n = lengths[i]
        x[i, :n], labels[i, :n], offs[i, :n], fg[i, :n] = f, lab, off, g
        kept[i, :n] = keep[0] if keep else True
    lengths_t = torch.tensor(lengths, dtype=torch.long)
    valid = kept
    return Batch(
        x.to(device), lengths_t.to(device), labels.to(device), offs.to(device), valid.to(device), fg.to(device)
    )


def _prepare(train_data, num_outputs: int, offset_clamp):
    import torch

    from benchmark.engine.targets import spotting_targets

    items, counts, dim = [], np.zeros(num_outputs, dtype=np.int64), None
    for i, (features, clip_labels) in enumerate(train_data):
        f = np.asarray(features, dtype=np.float32)
        if f.ndim != 2 or f.shape[0] != len(clip_labels):
            raise BenchError(
                f"spotter training video #{i}: features {f.shape} do not match {len(clip_labels)} "
                f"clip labels; re-extract the features for this video"
            )
        if dim is not None and f.shape[1] != dim:
            raise BenchError(f"spotter training video #{i}: feature dim {f.shape[1]} != {dim} of the first video")
        dim = f.shape[1]
        clip_labels = np.asarray(clip_labels, dtype=np.int64)
        kept = clip_labels != IGNORE  # ignored spans: neither sign nor background, left out of the loss
        labels, offs, fg = spotting_targets(np.where(kept, clip_labels, 0), offset_clamp)
        if labels.size and labels.max() >= num_outputs:
            raise BenchError(f"spotter training video #{i}: clip label {labels.max()} >= num_outputs {num_outputs}")
        if f.shape[0] == 0:
            continue
        counts += np.bincount(labels[kept], minlength=num_outputs)[:num_outputs]
        items.append((*map(torch.from_numpy, (f, labels, offs, fg)), torch.from_numpy(kept)))
    if not items:
        raise BenchError("spotter training: no training video with clips")
    return items, counts, dim


def loss_function(spotter, settings: Mapping, loss_settings: Mapping, class_counts=None) -> Callable:
    """``loss(outputs, batch) -> (total, cls_loss, reg_loss)``: the spotter's own (:meth:`Spotter.loss`)."""
    return spotter.loss(settings, loss_settings, class_counts)


def train_spotter(
    spotter,
    settings: Mapping,
    training: Mapping,
    train_data,
    num_outputs: int,
    clips,
    *,
    val_data=None,
    decode_fn: Callable | None = None,
    score_fn: Callable | None = None,
    device: str = "cpu",
    seed: int = 0,
    on_epoch: EpochCallback | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``spotter`` and return ``{"state_dict", "best_epoch", "history", "best_val_f1", "select"}``.

    :param settings: the spotter's merged settings (:meth:`Spotter.with_defaults`); ``offset_clamp`` caps the
        regression targets
    :param training: the complete ``spotter.training`` mapping (every key of the trainer defaults); its
        ``seed`` is resolved by the caller into ``seed``
    :param train_data: ``[(features float32 [N, D], clip_labels int [N]), ...]``
    :param clips: the run's ClipSpec (kept for decoders and future use)
    :param val_data: ``[(video_id, features, n_frames), ...]``, decoded by ``decode_fn(probs, offsets, n_frames)``
        (``decode_fn(probs, offsets, n_frames, levels=levels)`` for a pyramid spotter) and scored by
        ``score_fn(predictions) -> {"f1": ...}`` after every epoch
    :param on_epoch: ``on_epoch(epoch, metrics)``, epochs from 1; metrics ``loss``, ``cls_loss``, ``reg_loss``,
        ``lr``, ``epoch_seconds``, ``clips_per_s`` and, with validation, ``val_f1`` and the other numeric
        ``val_*`` scores

    ``select: best`` keeps the epoch with the highest validation F1 (the latest on ties: the same score after
    more training; on a tiny validation split every epoch may score 0), ``last`` (or no validation) the last
    epoch.  Deterministic given ``seed`` (on CPU; on CUDA up to cuDNN's own
    nondeterminism).
    """
    import torch

    torch.manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    device = choose_device(device)
    epochs, batch_size, select = _schedule(training)
    items, counts, dim = _prepare(train_data, num_outputs, settings["offset_clamp"])
    loss_fn = _checked_loss(spotter, settings, training["loss"], counts)
    model = spotter.build(dim, num_outputs, settings).to(device)
    optimizer = make_optimizer(model.parameters(), training, "spotter.training")
    scheduler = make_scheduler(optimizer, training)
    clip_grad = training["grad_clip"]
    train_one = partial(_train_epoch, model, items, rng, batch_size, loss_fn, optimizer, scheduler, clip_grad, device)
    validate = bool(val_data) and decode_fn is not None and score_fn is not None
    scores = partial(_validation_scores, model, val_data, decode_fn, score_fn, device) if validate else None
    best = _Best(select, validate)
    epochs_bar = bar(total=epochs, desc=f"train-spotter {spotter.name}", unit="epoch", enabled=progress)
    history = _run_epochs(model, epochs, train_one, scores, best, on_epoch, epochs_bar)
    epochs_bar.close()
    return best.result(history)


def _schedule(training: Mapping) -> tuple[int, int, str]:
    """``(epochs, batch_size, select)``, checked before anything is built."""
    epochs, batch_size, select = int(training["epochs"]), int(training["batch_size"]), str(training["select"])
    if select not in ("best", "last"):
        raise BenchError(f"spotter.training.select must be best or last, got {select!r}")
    if batch_size < 1:
        raise BenchError(f"spotter.training.batch_size must be >= 1, got {batch_size}")
    return epochs, batch_size, select


def _checked_loss(spotter, settings: Mapping, loss_settings: Mapping, counts) -> Callable:
    """:func:`loss_function`, its bad settings (a ValueError of the spotter's) reported as the run's error."""
    try:
        return loss_function(spotter, settings, loss_settings, counts)
    except ValueError as exc:
        raise BenchError(str(exc)) from None


class _Best:
    """The checkpoint ``select`` keeps: the highest validation F1's (the latest on ties), or the last epoch's."""

    def __init__(self, select: str, validate: bool):
        self.select, self.validate = select, validate
        self.state, self.epoch, self.f1 = None, 0, -math.inf

    def offer(self, model, epoch: int, f1: float | None) -> None:
        """Keep ``model``'s weights (a CPU copy) when epoch ``epoch`` is the one to keep so far."""
        if self.select == "last" or not self.validate or f1 >= self.f1:
            self.f1 = f1 if f1 is not None else self.f1
            self.epoch = epoch
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    def result(self, history: list[dict]) -> dict[str, Any]:
        """:func:`train_spotter`'s answer."""
        return {
            "state_dict": self.state,
            "best_epoch": self.epoch,
            "history": history,
            "select": self.select,
            "best_val_f1": None if self.f1 == -math.inf else float(self.f1),
        }


def _run_epochs(model, epochs: int, train_one, scores, best: _Best, on_epoch, epochs_bar) -> list[dict]:
    """Train ``epochs`` epochs (``train_one(epoch)``), each validated by ``scores()`` when given and offered to
    ``best``; the history of their metrics."""
    history = []
    for epoch in range(1, epochs + 1):
        metrics = train_one(epoch)
        if scores is not None:
            metrics.update(scores())
        f1 = metrics.get("val_f1")
        best.offer(model, epoch, f1)
        history.append({"epoch": epoch, **metrics})
        if on_epoch is not None:
            on_epoch(epoch, dict(metrics))
        epochs_bar.update(1)
        epochs_bar.set_postfix(loss=f"{metrics['loss']:.3f}", **({"f1": f"{f1:.3f}"} if f1 is not None else {}))
    return history


def _train_epoch(model, items, rng, batch_size, loss_fn, optimizer, scheduler, clip_grad, device, epoch) -> dict:
    """One pass over the training videos in a random order; the epoch's mean losses, lr and speed."""
    import torch

    model.train()
    t0 = time.perf_counter()
    order = rng.permutation(len(items))
    sums, n_batches, n_clips = np.zeros(3), 0, 0
    for start in range(0, len(order), batch_size):
        batch = pad_batch([items[i] for i in order[start : start + batch_size]], device)
        outputs = model(batch.features, batch.lengths)  # (logits, offsets) or (logits, offsets, levels)
        loss, cls, reg = loss_fn(outputs, batch)
        if not torch.isfinite(loss):
            raise BenchError(
                f"spotter training diverged at epoch {epoch} (loss {loss.item()}); lower spotter.training.lr"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad:
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(clip_grad))
        optimizer.step()
        sums += [loss.item(), cls.item(), reg.item()]
        n_batches += 1
        n_clips += int(batch.lengths.sum())
    lr = optimizer.param_groups[0]["lr"]
    scheduler.step()
    seconds = time.perf_counter() - t0
    return {
        "loss": float(sums[0] / n_batches),
        "cls_loss": float(sums[1] / n_batches),
        "reg_loss": float(sums[2] / n_batches),
        "lr": float(lr),
        "epoch_seconds": seconds,
        "clips_per_s": n_clips / max(seconds, 1e-9),
    }


def _validation_scores(model, val_data, decode_fn, score_fn, device) -> dict:
    """Decode the validation videos and score them: ``val_f1`` and the metric's other numbers."""
    from benchmark.engine.inference import predict_batch_with_model

    model.eval()
    outputs = predict_batch_with_model(model, [features for _, features, _ in val_data], device)
    preds = {
        video_id: _decode(decode_fn, output, n_frames) for (video_id, _, n_frames), output in zip(val_data, outputs)
    }
    scores = score_fn(preds) or {}
    out = {
        f"val_{k}": float(v)
        for k, v in scores.items()
        if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)
    }
    if "val_f1" not in out:
        raise BenchError("spotter validation: score_fn returned no 'f1'")
    return out


def _decode(decode_fn, output, n_frames):
    """One video's segments from its predicted ``(probs, offsets)`` or ``(probs, offsets, levels)``."""
    if len(output) == 3:
        probs, offsets, levels = output
        return decode_fn(probs, offsets, n_frames, levels=levels)
    probs, offsets = output
    return decode_fn(probs, offsets, n_frames)
