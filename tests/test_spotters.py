"""Spotter models (shapes, padding invariance), plugin registration, training and inference."""
import numpy as np
import pytest
import torch

from benchmark.clips import ClipSpec, segments_from_clip_labels
from benchmark.metrics.chalearn import score
from benchmark.registry import ComponentRegistry
from spotters.decoders.vote import VoteDecoder
from spotters.inference import predict, predict_videos
from spotters.plugin import SPOTTERS, register_spotters
from spotters.training import train_spotter

SPOTTER = {s.name: s for s in SPOTTERS}
SMALL = {"reduce_dims": [24, 16], "hidden": 16, "lstm_hidden": 8, "head_dim": 8, "layers": 3, "heads": 2,
         "window": 5}


@pytest.fixture(autouse=True)
def _threads():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_plugin_registers_the_three_spotters():
    reg = ComponentRegistry("spotter")
    register_spotters(reg)
    assert reg.names() == ["conv-bilstm", "tcn", "transformer"]


@pytest.mark.parametrize("name", ["conv-bilstm", "tcn", "transformer"])
def test_forward_shapes_and_padding_invariance(name):
    torch.manual_seed(0)
    model = SPOTTER[name].build(20, 5, SMALL).eval()
    x = torch.randn(3, 13, 20)
    lengths = torch.tensor([13, 7, 1])
    x[1, 7:] = 1e3  # garbage in the padding must not matter
    with torch.no_grad():
        logits, offsets = model(x, lengths)
        assert logits.shape == (3, 13, 5) and offsets.shape == (3, 13, 2)
        assert (offsets >= 0).all()
        for b, n in enumerate(lengths.tolist()):
            alone_logits, alone_off = model(x[b:b + 1, :n], lengths[b:b + 1])
            torch.testing.assert_close(logits[b, :n], alone_logits[0], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(offsets[b, :n], alone_off[0], atol=1e-5, rtol=1e-4)
            assert logits[b, n:].abs().max().item() == 0.0 if n < 13 else True


@pytest.mark.parametrize("name", ["conv-bilstm", "tcn", "transformer"])
def test_batched_prediction_equals_one_video_at_a_time(name):
    """Validation and decoding run several videos per forward pass: same outputs as one by one."""
    from spotters.inference import predict_batch_with_model, predict_with_model

    torch.manual_seed(0)
    model = SPOTTER[name].build(20, 5, SMALL)
    rng = np.random.default_rng(0)
    videos = [rng.standard_normal((n, 20)).astype(np.float32) for n in (17, 3, 0, 9, 1)]
    batched = predict_batch_with_model(model, videos, batch_size=2)
    assert model.training  # the caller's mode is restored
    for f, (probs, offsets) in zip(videos, batched):
        alone_p, alone_o = predict_with_model(model, f)
        assert probs.shape == (f.shape[0], 5) and offsets.shape == (f.shape[0], 2)
        np.testing.assert_allclose(probs, alone_p, atol=1e-5)
        np.testing.assert_allclose(offsets, alone_o, atol=1e-5)


def test_batchnorm_statistics_exclude_padding_in_training():
    torch.manual_seed(0)
    settings = dict(SMALL, lstm_dropout=0.0, dropout=0.0)
    model = SPOTTER["conv-bilstm"].build(10, 3, settings).train()
    a, b = torch.randn(1, 9, 10), torch.randn(1, 5, 10)
    padded = torch.zeros(2, 9, 10)
    padded[0], padded[1, :5] = a[0], b[0]
    padded[1, 5:] = 50.0
    out_pad, _ = model(padded, torch.tensor([9, 5]))
    # the same valid rows without padding (one sequence of 14 rows split in two is not the same, so
    # compare against the padded batch with different garbage)
    padded[1, 5:] = -7.0
    out_pad2, _ = model(padded, torch.tensor([9, 5]))
    torch.testing.assert_close(out_pad[1, :5], out_pad2[1, :5])
    torch.testing.assert_close(out_pad[0], out_pad2[0])


def test_fusion_setting_and_errors():
    conv = SPOTTER["conv-bilstm"].build(8, 3, dict(SMALL, fusion="temporal-conv"))
    point = SPOTTER["conv-bilstm"].build(8, 3, dict(SMALL, fusion="pointwise"))
    assert conv.fuse.conv.kernel_size == (3,) and point.fuse.conv.kernel_size == (1,)
    ref = SPOTTER["conv-bilstm"].build(6400, 61, {"fusion": None})  # null keeps the default
    assert [m.out_features for m in ref.reduce.net if isinstance(m, torch.nn.Linear)] == [2048, 512]
    assert ref.lstm.hidden_size == 256 and ref.lstm.num_layers == 2 and ref.lstm.dropout == 0.3
    assert ref.heads.cls.last.out_channels == 61 and len(ref.heads.cls.blocks) == 3
    with pytest.raises(ValueError, match="fusion"):
        SPOTTER["conv-bilstm"].build(8, 3, {"fusion": "sum"})


# -- a tiny synthetic spotting problem ------------------------------------------------------------------


def synthetic(n_videos, rng, classes=3, dim=12, noise=0.8):
    emb = np.random.default_rng(123).normal(size=(classes + 1, dim)).astype(np.float32) * 1.5
    videos = []
    for _ in range(n_videos):
        labels = []
        while len(labels) < 60:
            labels += [0] * int(rng.integers(2, 7)) + [int(rng.integers(1, classes + 1))] * int(rng.integers(2, 6))
        labels = np.array(labels, dtype=np.int64)
        feats = emb[labels] + rng.normal(scale=noise, size=(labels.size, dim)).astype(np.float32)
        videos.append((feats, labels))
    return videos


def test_trained_spotter_beats_trivial_baselines():
    rng = np.random.default_rng(0)
    train, val = synthetic(12, rng), synthetic(4, rng)
    clips = ClipSpec(8, 8)
    gt = {f"v{i}": segments_from_clip_labels(lab, clips, lab.size * 8) for i, (_, lab) in enumerate(val)}
    val_data = [(f"v{i}", f, lab.size * 8) for i, (f, lab) in enumerate(val)]
    decoder = VoteDecoder()

    def decode_fn(probs, offsets, n_frames):
        return decoder.decode(probs, offsets, clips, {}, n_frames=n_frames)

    epochs_seen = []
    training = {"epochs": 12, "batch_size": 1, "optimizer": "adamw", "lr": 1e-2, "weight_decay": 0.005,
                "milestones": [10], "gamma": 0.2, "select": "best",
                "loss": {"classification": "ce", "regression": "diou", "regression_weight": 1.0}}
    settings = dict(SMALL, dropout=0.1, lstm_dropout=0.0)  # tiny model: little regularisation
    out = train_spotter(SPOTTER["conv-bilstm"], settings, training, train, 4, clips, val_data=val_data,
                        decode_fn=decode_fn, score_fn=lambda p: score(gt, p), seed=0,
                        on_epoch=lambda e, m: epochs_seen.append((e, m)), progress=False)
    assert [e for e, _ in epochs_seen] == list(range(1, 13))
    assert {"loss", "cls_loss", "reg_loss", "val_f1", "lr", "clips_per_s"} <= set(epochs_seen[0][1])
    hist = out["history"]
    assert hist[-1]["loss"] < hist[0]["loss"]
    best = max(hist, key=lambda h: h["val_f1"])
    assert out["best_epoch"] == best["epoch"] and out["best_val_f1"] == pytest.approx(best["val_f1"])

    preds = {vid: decode_fn(*predict(SPOTTER["conv-bilstm"], settings, out["state_dict"], f, 4), n)
             for vid, f, n in val_data}
    f1 = score(gt, preds)["f1"]
    assert f1 == pytest.approx(out["best_val_f1"], abs=1e-9)  # best checkpoint reproduces its F1
    background = score(gt, {v: [] for v in gt})["f1"]
    majority = np.bincount(np.concatenate([lab for _, lab in train]))[1:].argmax()
    one_class = score(gt, {v: [[int(majority), 0, segs[-1][2]]] for v, segs in gt.items()})["f1"]
    print(f"trained F1 {f1:.3f}, all-background {background:.3f}, one segment of the majority class {one_class:.3f}")
    assert f1 > 0.5 and f1 > one_class + 0.3 and background == 0.0


@pytest.mark.parametrize("name", ["tcn", "transformer"])
def test_alternatives_train_and_are_deterministic(name):
    rng = np.random.default_rng(1)
    train = synthetic(4, rng)
    training = {"epochs": 2, "batch_size": 2, "lr": 3e-3, "milestones": [], "select": "last"}
    a = train_spotter(SPOTTER[name], SMALL, training, train, 4, ClipSpec(), seed=3, progress=False)
    b = train_spotter(SPOTTER[name], SMALL, training, train, 4, ClipSpec(), seed=3, progress=False)
    assert a["best_epoch"] == 2 and all(np.isfinite(h["loss"]) for h in a["history"])
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    outs = predict_videos(SPOTTER[name], SMALL, a["state_dict"], [f for f, _ in train[:2]], 4)
    for (probs, offsets), (f, _) in zip(outs, train):
        assert probs.shape == (len(f), 4) and offsets.shape == (len(f), 2) and probs.dtype == np.float32
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
        assert (offsets >= 0).all()
