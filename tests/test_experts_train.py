"""Each built-in expert trains a few steps and extracts features of its declared size; round 2 starts from
round 1's weights; training is deterministic under a seed."""
import numpy as np
import pytest
import torch

from benchmark.clips import ClipSpec, frame_labels
from experts.extraction import FeatureExtractor, extract_features
from experts.plugin import builtin_experts
from experts.training import train_expert

torch.set_num_threads(1)
CLIPS = ClipSpec(8, 8)
TRAINING = {"rounds": 2, "epochs": 1, "batch_size": 2, "lr": 1e-3, "milestones": [], "gamma": 0.2,
            "input_size": 32, "hflip": 0.5, "max_clips_per_epoch": 4}
SETTINGS = {
    "i3d": {"width": "small"}, "x3d": {"width": "small"}, "r2plus1d": {"width": "small"},
    "p3d": {"width": "small", "depth": 63}, "stgcn": {}, "timm": {"model": "resnet18"},
    "skeleton-transformer": {"dim": 32, "depth": 1, "heads": 2},
}
MODALITY = {"p3d": "flow-tvl1", "stgcn": "skeleton", "skeleton-transformer": "skeleton"}


def make_videos(modality, n_videos=2, frames=40, size=36, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for v in range(n_videos):
        labels = frame_labels([[v, 400, 1000], [2, 1200, 1480]], frames)
        if modality == "skeleton":
            arr = rng.standard_normal((frames, 57, 3)).astype(np.float32)
            arr[3, 20] = np.nan  # a missing joint must not poison training
        else:
            c = 2 if modality.startswith("flow") else 3
            arr = rng.integers(0, 256, (frames, size, size, c), dtype=np.uint8)
        out.append((labels, arr))
    return out


@pytest.mark.parametrize("name", list(SETTINGS))
def test_builtin_trains_and_extracts(name):
    expert = builtin_experts()[name]
    modality = MODALITY.get(name, "rgb-crop")
    videos = make_videos(modality)
    epochs = []
    state = train_expert(expert, SETTINGS[name], TRAINING, videos, CLIPS, num_outputs=5, seed=0, progress=False,
                         modality=modality, on_epoch=lambda stage, ep, m: epochs.append((stage, ep, m)))
    assert [(s, e) for s, e, _ in epochs] == [("round1", 1), ("round2", 1)]
    for _, _, m in epochs:
        assert np.isfinite(m["loss"]) and 0.0 <= m["accuracy"] <= 1.0 and m["clips"] == 4
    assert all(v.device.type == "cpu" for v in state.values())
    assert state["classifier.weight"].shape[0] == 5
    feats = extract_features(expert, SETTINGS[name], state, videos[0][1], CLIPS, batch_size=3, modality=modality,
                             training=TRAINING)
    dim = expert.feature_dim({**SETTINGS[name], "modality": modality})
    assert feats.dtype == np.float32 and feats.shape == (CLIPS.num_clips(40), dim)
    assert np.isfinite(feats).all() and feats.std() > 0
    # test time is deterministic (eval mode, centre crop, no flip) and independent of the batching
    again = extract_features(expert, SETTINGS[name], state, videos[0][1], CLIPS, batch_size=5, modality=modality,
                             training=TRAINING)
    np.testing.assert_allclose(feats, again, rtol=1e-4, atol=1e-5)


def test_round2_starts_from_round1_weights():
    expert = builtin_experts()["stgcn"]
    videos = make_videos("skeleton")
    kw = dict(settings={}, videos=videos, clips=CLIPS, num_outputs=5, seed=3, progress=False)
    both = train_expert(expert, training=TRAINING, return_rounds=True, **kw)
    r1, r2 = both["round1"], both["round2"]
    assert r1 is not None and any(not torch.equal(r1[k], r2[k]) for k in r1)
    # round 2 alone, started from round 1's weights, reproduces round 2 exactly ...
    resumed = train_expert(expert, training={**TRAINING, "rounds": 1}, init_state=r1, **kw)
    for k in r2:
        torch.testing.assert_close(resumed[k], r2[k], rtol=0, atol=0)
    # ... and differs from round 2 started from scratch
    scratch = train_expert(expert, training={**TRAINING, "rounds": 1}, **kw)
    assert any(not torch.equal(scratch[k], r2[k]) for k in r2 if r2[k].is_floating_point())
    # round 1 saw only query-sign clips: with none, it is skipped
    bg = [(np.zeros_like(lab), arr) for lab, arr in videos]
    only = train_expert(expert, training=TRAINING, return_rounds=True, **{**kw, "videos": bg})
    assert only["round1"] is None


def test_training_is_deterministic_and_seed_sensitive():
    expert = builtin_experts()["i3d"]
    videos = make_videos("rgb-crop")
    kw = dict(settings={"width": "small"}, training=TRAINING, videos=videos, clips=CLIPS, num_outputs=5,
              progress=False)
    a = train_expert(expert, seed=1, **kw)
    b = train_expert(expert, seed=1, **kw)
    c = train_expert(expert, seed=2, **kw)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_extractor_reuses_model_across_videos_and_checks_labels():
    from benchmark.errors import BenchError

    expert = builtin_experts()["p3d"]
    videos = make_videos("flow-tvl1")
    state = train_expert(expert, SETTINGS["p3d"], {**TRAINING, "rounds": 1}, videos, CLIPS, 5, progress=False)
    ex = FeatureExtractor(expert, SETTINGS["p3d"], state, training=TRAINING)
    short = ex(videos[1][1][:13], CLIPS)  # 13 frames -> 2 clips, the last one edge-padded
    assert short.shape == (2, 512)
    with pytest.raises(BenchError, match="does not fit 3 outputs"):
        train_expert(expert, SETTINGS["p3d"], TRAINING, videos, CLIPS, 3, progress=False)
