"""Spotter components (settings, torch-free import), models (shapes, padding invariance), training and
inference."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from benchmark.config.entries import trainer_defaults
from benchmark.config.registry import ComponentRegistry
from benchmark.engine.clips import ClipSpec, segments_from_clip_labels
from benchmark.engine.inference import load_model, predict_batch_with_model
from benchmark.engine.spotter_training import train_spotter
from benchmark.interfaces import SHARED_SPOTTER_SETTINGS
from benchmark.metrics.chalearn import score
from spotters.decoders.vote import VoteDecoder
from spotters.plugin import SPOTTER_CLASSES, register_spotters

SPOTTER = {cls.name: cls() for cls in SPOTTER_CLASSES}
TINY = {"reduce_dims": [24, 16], "hidden": 16, "lstm_hidden": 8, "head_dim": 8, "layers": 3, "heads": 2, "window": 5}


def small(name: str, **extra) -> dict:
    """Tiny sizes for spotter ``name``: the keys of :data:`TINY` it declares (the core rejects the others), merged."""
    spotter = SPOTTER[name]
    return spotter.with_defaults({**{k: v for k, v in TINY.items() if k in spotter.declared()}, **extra})


def training(**overrides) -> dict:
    """The complete default ``spotter.training`` with ``overrides`` (``loss`` given as a partial mapping)."""
    out = trainer_defaults()["spotter_training"]
    out["loss"].update(overrides.pop("loss", {}))
    out.update(overrides)
    return out


@pytest.fixture(autouse=True)
def _threads():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_plugin_registers_the_five_spotters_and_the_query_spotters():
    from benchmark.queries import QuerySpotter

    reg = ComponentRegistry("spotter")
    register_spotters(reg)
    trained = ["conv-bilstm", "tcn", "transformer", "actionformer", "temporalmaxer"]
    assert reg.names() == [*trained, "dtw", "embedding", "random-windows"]
    assert [type(reg.get(n)) for n in reg.names()] == list(SPOTTER_CLASSES)
    assert [n for n in reg.names() if not isinstance(reg.get(n), QuerySpotter)] == trained


def test_plugins_import_without_torch():
    """Listing and configuring components must not pay for torch: the classes import it only to build."""
    code = (
        "import sys, spotters.plugin, spotters.decoders.plugin\n"
        "for cls in spotters.plugin.SPOTTER_CLASSES + spotters.decoders.plugin.DECODER_CLASSES:\n"
        "    cls().with_defaults({})\n"
        "import spotters.pyramid, spotters.pyramid_targets\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
        "import spotters.models.layers\n"
        "assert 'torch' in sys.modules\n"
    )  # the check itself can see torch
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


class Recording(dict):
    """Settings that remember which keys were read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


@pytest.mark.parametrize("name", ["conv-bilstm", "tcn", "transformer"])
def test_settings_declared_are_the_settings_read(name):
    """Every shared key is accepted; the model reads exactly the spotter's own ``defaults`` (so the size keys
    it uses are declared there, and no declared key is dead)."""
    spotter = SPOTTER[name]
    assert set(SHARED_SPOTTER_SETTINGS) <= set(spotter.declared())
    settings = Recording(small(name))
    spotter.create_model(20, 5, settings)
    assert settings.read == set(type(spotter).defaults)
    assert set(SHARED_SPOTTER_SETTINGS) - {"offset_clamp"} <= settings.read  # offset_clamp: the trainer's


@pytest.mark.parametrize("name", ["conv-bilstm", "tcn", "transformer"])
def test_forward_shapes_and_padding_invariance(name):
    torch.manual_seed(0)
    model = SPOTTER[name].build(20, 5, small(name)).eval()
    x = torch.randn(3, 13, 20)
    lengths = torch.tensor([13, 7, 1])
    x[1, 7:] = 1e3  # garbage in the padding must not matter
    with torch.no_grad():
        logits, offsets = model(x, lengths)
        assert logits.shape == (3, 13, 5) and offsets.shape == (3, 13, 2)
        assert (offsets >= 0).all()
        for b, n in enumerate(lengths.tolist()):
            alone_logits, alone_off = model(x[b : b + 1, :n], lengths[b : b + 1])
            torch.testing.assert_close(logits[b, :n], alone_logits[0], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(offsets[b, :n], alone_off[0], atol=1e-5, rtol=1e-4)
            assert logits[b, n:].abs().max().item() == 0.0 if n < 13 else True


@pytest.mark.parametrize("name", ["conv-bilstm", "tcn", "transformer"])
def test_batched_prediction_equals_one_video_at_a_time(name):
    """Validation and decoding run several videos per forward pass: same outputs as one by one."""
    torch.manual_seed(0)
    model = SPOTTER[name].build(20, 5, small(name))
    rng = np.random.default_rng(0)
    videos = [rng.standard_normal((n, 20)).astype(np.float32) for n in (17, 3, 0, 9, 1)]
    batched = predict_batch_with_model(model, videos, batch_size=2)
    assert model.training  # the caller's mode is restored
    for f, (probs, offsets) in zip(videos, batched):
        [(alone_p, alone_o)] = predict_batch_with_model(model, [f])
        assert probs.shape == (f.shape[0], 5) and offsets.shape == (f.shape[0], 2)
        np.testing.assert_allclose(probs, alone_p, atol=1e-5)
        np.testing.assert_allclose(offsets, alone_o, atol=1e-5)
    assert any(not np.allclose(batched[0][0][:1], batched[i][0][:1]) for i in (1, 3, 4))  # not all the same


def test_batchnorm_statistics_exclude_padding_in_training():
    torch.manual_seed(0)
    model = SPOTTER["conv-bilstm"].build(10, 3, small("conv-bilstm", lstm_dropout=0.0, dropout=0.0)).train()
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
    conv = SPOTTER["conv-bilstm"].build(8, 3, small("conv-bilstm", fusion="temporal-conv"))
    point = SPOTTER["conv-bilstm"].build(8, 3, small("conv-bilstm", fusion="pointwise"))
    assert conv.fuse.conv.kernel_size == (3,) and point.fuse.conv.kernel_size == (1,)
    ref = SPOTTER["conv-bilstm"].build(6400, 61)  # the class defaults win over the shared ones
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
        return decoder.decode(probs, offsets, clips, decoder.with_defaults({}), n_frames=n_frames)

    epochs_seen = []
    settings = small("conv-bilstm", dropout=0.1, lstm_dropout=0.0)  # tiny model: little regularisation
    out = train_spotter(
        SPOTTER["conv-bilstm"],
        settings,
        training(epochs=12, batch_size=1, lr=1e-2, milestones=[10]),
        train,
        4,
        clips,
        val_data=val_data,
        decode_fn=decode_fn,
        score_fn=lambda p: score(gt, p),
        seed=0,
        on_epoch=lambda e, m: epochs_seen.append((e, m)),
        progress=False,
    )
    assert [e for e, _ in epochs_seen] == list(range(1, 13))
    assert {"loss", "cls_loss", "reg_loss", "val_f1", "lr", "epoch_seconds", "clips_per_s"} <= set(epochs_seen[0][1])
    hist = out["history"]
    assert hist[-1]["loss"] < hist[0]["loss"]
    best = max(hist, key=lambda h: h["val_f1"])
    assert out["best_epoch"] == best["epoch"] and out["best_val_f1"] == pytest.approx(best["val_f1"])

    model = load_model(SPOTTER["conv-bilstm"], settings, out["state_dict"], 12, 4)
    outputs = predict_batch_with_model(model, [f for _, f, _ in val_data])
    preds = {vid: decode_fn(probs, offsets, n) for (vid, _, n), (probs, offsets) in zip(val_data, outputs)}
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
    settings, plan = small(name), training(epochs=2, batch_size=2, lr=3e-3, milestones=[], select="last")
    a = train_spotter(SPOTTER[name], settings, plan, train, 4, ClipSpec(), seed=3, progress=False)
    b = train_spotter(SPOTTER[name], settings, plan, train, 4, ClipSpec(), seed=3, progress=False)
    c = train_spotter(SPOTTER[name], settings, plan, train, 4, ClipSpec(), seed=4, progress=False)
    assert a["best_epoch"] == 2 and all(np.isfinite(h["loss"]) for h in a["history"])
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    assert any(not torch.equal(a["state_dict"][k], c["state_dict"][k]) for k in a["state_dict"])  # the seed counts
    model = load_model(SPOTTER[name], settings, a["state_dict"], 12, 4)
    assert not model.training
    outs = predict_batch_with_model(model, [f for f, _ in train[:2]])
    assert len(outs) == 2
    for (probs, offsets), (f, _) in zip(outs, train):
        assert probs.shape == (len(f), 4) and offsets.shape == (len(f), 2) and probs.dtype == np.float32
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
        assert (offsets >= 0).all()


def test_training_reads_offset_clamp_and_checks_select():
    """``offset_clamp`` comes from the spotter's settings: clamped targets give another regression loss."""
    from benchmark.errors import BenchError

    train = synthetic(2, np.random.default_rng(2))
    plan = training(epochs=1, lr=1e-3, select="last")
    free = train_spotter(SPOTTER["tcn"], small("tcn"), plan, train, 4, ClipSpec(), progress=False)
    clamped = train_spotter(SPOTTER["tcn"], small("tcn", offset_clamp=0), plan, train, 4, ClipSpec(), progress=False)
    assert clamped["history"][0]["cls_loss"] == free["history"][0]["cls_loss"]  # same seed, same model
    assert clamped["history"][0]["reg_loss"] != free["history"][0]["reg_loss"]
    with pytest.raises(BenchError, match="select must be best or last"):
        train_spotter(SPOTTER["tcn"], small("tcn"), training(select="first"), train, 4, ClipSpec(), progress=False)
