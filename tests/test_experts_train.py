"""Each built-in expert trains a few steps and extracts features of its declared size; round 2 starts from
round 1's weights; training is deterministic under a seed."""

from typing import NamedTuple

import numpy as np
import pytest
import torch

from benchmark.config.entries import trainer_defaults
from benchmark.engine.clips import ClipSpec, frame_labels
from benchmark.engine.expert_training import train_expert, training_for
from benchmark.engine.extraction import FeatureExtractor
from experts.plugin import EXPERTS

torch.set_num_threads(1)
CLIPS = ClipSpec(8, 8)


def expert_training(**overrides) -> dict:
    """The trainer's defaults with ``overrides``: a complete ``expert_training`` mapping, as an entry's is."""
    return {**trainer_defaults()["expert_training"], **overrides}


# the per-expert overrides of these tests: tiny and fast
OVERRIDES = {
    "rounds": 2,
    "epochs": 1,
    "batch_size": 2,
    "lr": 1e-3,
    "milestones": [],
    "gamma": 0.2,
    "input_size": 32,
    "hflip": 0.5,
    "max_clips_per_epoch": 4,
}
SETTINGS = {
    "i3d": {"width": "small"},
    "x3d": {"width": "small"},
    "r2plus1d": {"width": "small"},
    "p3d": {"width": "small", "depth": 63},
    "stgcn": {},
    "timm": {"model": "resnet18"},
    "skeleton-transformer": {"dim": 32, "depth": 1, "heads": 2},
}
BY_NAME = {cls.name: cls() for cls in EXPERTS}


class StandIn(NamedTuple):
    """The part of a modality that training reads (its channels), plus a name saying what arrays to make."""

    name: str
    channels: int


RGB, FLOW, SKELETON = StandIn("rgb-crop", 3), StandIn("flow-tvl1", 2), StandIn("skeleton", 3)
MODALITY = {"p3d": FLOW, "stgcn": SKELETON, "skeleton-transformer": SKELETON}


def training(expert, **overrides) -> dict:
    """This expert's complete training settings with the tests' overrides, resolved as the pipeline does."""
    return training_for(expert, expert_training(), {**OVERRIDES, **overrides})


def make_videos(modality, n_videos=2, frames=40, size=36, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for v in range(n_videos):
        labels = frame_labels([[v, 400, 1000], [2, 1200, 1480]], frames)
        if modality.name == "skeleton":
            arr = rng.standard_normal((frames, 57, 3)).astype(np.float32)
            arr[3, 20] = np.nan  # a missing joint must not poison training
        else:
            arr = rng.integers(0, 256, (frames, size, size, modality.channels), dtype=np.uint8)
        out.append((labels, arr))
    return out


@pytest.mark.parametrize("name", list(SETTINGS))
def test_builtin_trains_and_extracts(name):
    expert = BY_NAME[name]
    modality = MODALITY.get(name, RGB)
    videos = make_videos(modality)
    train = training(expert)
    epochs = []
    state = train_expert(
        expert,
        SETTINGS[name],
        train,
        videos,
        CLIPS,
        num_outputs=5,
        modality=modality,
        seed=0,
        progress=False,
        on_epoch=lambda epoch, metrics: epochs.append((epoch, dict(metrics))),
    )
    keys = ("loss", "accuracy", "lr", "clips", "epoch_seconds", "clips_per_s")
    assert [(e, sorted(m)) for e, m in epochs] == [(1, sorted(f"round{r}/{k}" for k in keys)) for r in (1, 2)]
    for r, (_, m) in enumerate(epochs, 1):
        assert np.isfinite(m[f"round{r}/loss"]) and 0.0 <= m[f"round{r}/accuracy"] <= 1.0
        assert m[f"round{r}/clips"] == 4 and m[f"round{r}/epoch_seconds"] > 0
    assert all(v.device.type == "cpu" for v in state.values())
    assert state["classifier.weight"].shape[0] == 5
    feats = FeatureExtractor(expert, SETTINGS[name], state, "cpu", 3, modality=modality, training=train)(
        videos[0][1], CLIPS
    )
    dim = expert.feature_dim(SETTINGS[name])
    assert feats.dtype == np.float32 and feats.shape == (CLIPS.num_clips(40), dim)
    assert np.isfinite(feats).all() and feats.std() > 0
    # test time is deterministic (eval mode, centre crop, no flip) and independent of the batching
    again = FeatureExtractor(expert, SETTINGS[name], state, "cpu", 5, modality=modality, training=train)(
        videos[0][1], CLIPS
    )
    np.testing.assert_allclose(feats, again, rtol=1e-4, atol=1e-5)


def test_stgcn_small_width_halves_every_block():
    """The CPU profile's ST-GCN: half the channels in every block, a 128-d feature, about a quarter of the
    weights; an int width scales from the first block; a misspelled width is refused."""
    expert = BY_NAME["stgcn"]
    full, small = expert.build(5, {}), expert.build(5, {"width": "small"})
    assert expert.feature_dim({}) == 256 and expert.feature_dim({"width": "small"}) == 128
    assert small.feature_dim == 128 and small(torch.zeros(2, 3, 8, 57))[0].shape == (2, 128)
    widths = [block.gcn.conv.out_channels // block.gcn.k for block in small.blocks]
    assert widths == [32] * 4 + [64] * 3 + [128] * 3
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert 0.2 < count(small) / count(full) < 0.3
    assert expert.feature_dim({"width": 16}) == 64
    with pytest.raises(Exception, match="width"):
        expert.build(5, {"width": "smal"})


def test_round2_starts_from_round1_weights():
    expert = BY_NAME["stgcn"]
    videos = make_videos(SKELETON)
    kw = dict(settings={}, videos=videos, clips=CLIPS, num_outputs=5, modality=SKELETON, seed=3, progress=False)
    both = train_expert(expert, training=training(expert), return_rounds=True, **kw)
    r1, r2 = both["round1"], both["round2"]
    assert r1 is not None and any(not torch.equal(r1[k], r2[k]) for k in r1)
    # round 2 alone, started from round 1's weights, reproduces round 2 exactly ...
    resumed = train_expert(expert, training=training(expert, rounds=1), init_state=r1, **kw)
    for k in r2:
        torch.testing.assert_close(resumed[k], r2[k], rtol=0, atol=0)
    # ... and differs from round 2 started from scratch
    scratch = train_expert(expert, training=training(expert, rounds=1), **kw)
    assert any(not torch.equal(scratch[k], r2[k]) for k in r2 if r2[k].is_floating_point())
    # round 1 saw only query-sign clips: with none, it is skipped
    bg = [(np.zeros_like(lab), arr) for lab, arr in videos]
    only = train_expert(expert, training=training(expert), return_rounds=True, **{**kw, "videos": bg})
    assert only["round1"] is None


def test_training_is_deterministic_and_seed_sensitive():
    expert = BY_NAME["i3d"]
    videos = make_videos(RGB)
    kw = dict(
        settings={"width": "small"},
        training=training(expert),
        videos=videos,
        clips=CLIPS,
        num_outputs=5,
        modality=RGB,
        progress=False,
    )
    a = train_expert(expert, seed=1, **kw)
    b = train_expert(expert, seed=1, **kw)
    c = train_expert(expert, seed=2, **kw)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_extractor_reuses_model_across_videos_and_checks_labels():
    from benchmark.errors import BenchError

    expert = BY_NAME["p3d"]
    videos = make_videos(FLOW)
    train = training(expert, rounds=1)
    state = train_expert(expert, SETTINGS["p3d"], train, videos, CLIPS, 5, modality=FLOW, progress=False)
    assert state["conv1_custom.weight"].shape[1] == 2  # the channels come from the modality
    ex = FeatureExtractor(
        expert, SETTINGS["p3d"], state, "cpu", train["extract_batch_size"], modality=FLOW, training=train
    )
    short = ex(videos[1][1][:13], CLIPS)  # 13 frames -> 2 clips, the last one edge-padded
    assert short.shape == (2, 512)
    assert ex(videos[0][1], CLIPS).shape == (CLIPS.num_clips(40), 512)
    with pytest.raises(BenchError, match="does not fit 3 outputs"):
        train_expert(expert, SETTINGS["p3d"], training(expert), videos, CLIPS, 3, modality=FLOW, progress=False)
