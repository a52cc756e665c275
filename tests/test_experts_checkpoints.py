"""Public checkpoint layouts load into i3d / p3d; what does not fit is listed; loads are weights_only."""

import logging
import time

import pytest
import torch

from benchmark.engine import checkpoints
from benchmark.errors import BenchError
from experts._compat import pytorchvideo_ready
from tests.test_experts_train import BY_NAME as EXPERTS
from tests.test_experts_train import FLOW

torch.set_num_threads(1)


def test_pytorchvideo_i3d_checkpoint_loads_into_i3d(tmp_path):
    pytorchvideo_ready()
    from pytorchvideo.models.hub.resnet import i3d_r50

    torch.manual_seed(0)
    hub = i3d_r50(pretrained=False, stem_dim_out=16)  # the hub architecture, small width, 400-class head
    path = tmp_path / "I3D_8x8_R50.pyth"
    torch.save({"model_state": hub.state_dict(), "cfg": "kinetics"}, path)
    model = EXPERTS["i3d"].build(61, {"width": "small", "pretrained": str(path)})
    own, src = model.state_dict(), hub.state_dict()
    head = f"blocks.{len(hub.blocks) - 1}.proj."  # blocks.6: the stage-1 pool is a block
    assert head + "weight" in src
    shared = [k for k in src if not k.startswith(head)]
    assert len(shared) == len(own) - 2  # everything but the replaced classifier
    for k in shared:
        torch.testing.assert_close(own[k], src[k], rtol=0, atol=0)
    assert own["classifier.weight"].shape == (61, 512)
    # same network: identical pooled features (the hub head pools with a fixed kernel: use its size)
    model.eval(), hub.eval()
    x = torch.randn(1, 3, 8, 224, 224)
    with torch.no_grad():
        feats, _ = model(x)
        h = x
        for block in hub.blocks[:-1]:
            h = block(h)
        ref = hub.blocks[-1].pool(h).flatten(1)
    torch.testing.assert_close(feats, ref, rtol=1e-4, atol=1e-4)


def test_i3d_rgb_checkpoint_initialises_flow_input(tmp_path):
    rgb = EXPERTS["i3d"].build(400, {"width": "small"})
    path = tmp_path / "rgb.pt"
    checkpoints.save_state({k.replace("classifier.", "blocks.6.proj."): v for k, v in rgb.state_dict().items()}, path)
    flow = EXPERTS["i3d"].build(61, {"width": "small", "pretrained": str(path)}, FLOW)
    w = flow.state_dict()["blocks.0.conv.weight"]
    assert w.shape[1] == 2
    torch.testing.assert_close(w[:, 0], rgb.state_dict()["blocks.0.conv.weight"].mean(1))


def _p3d_public_state(depth=63, base=16, in_chans=2):
    """A randomly initialised P3D saved like the public release: DataParallel names, 400-class ``fc``."""
    from experts.models.p3d import P3D
    from experts.p3d import DEPTHS

    torch.manual_seed(1)
    net = P3D(DEPTHS[depth], in_chans, 400, base=base, dropout=0.5)
    sd = {("module." + k.replace("classifier.", "fc.")): v for k, v in net.state_dict().items()}
    return {"epoch": 40, "arch": f"p3d{depth}", "best_prec1": 0.5, "state_dict": sd}


def test_p3d_public_layout_loads(tmp_path):
    ckpt = _p3d_public_state()
    names = {k[len("module.") :] for k in ckpt["state_dict"]}
    for k in (
        "conv1_custom.weight",
        "bn1.running_mean",
        "layer1.0.conv2.weight",
        "layer1.0.conv3.weight",
        "layer2.0.downsample.0.weight",
        "layer4.0.conv_normal.weight",
        "layer4.2.bn4.weight",
        "fc.weight",
    ):
        assert k in names, k
    path = tmp_path / "p3d_flow_63.checkpoint.pth.tar"
    torch.save(ckpt, path)
    model = EXPERTS["p3d"].build(61, {"depth": 63, "width": "small", "pretrained": str(path)}, FLOW)
    own = model.state_dict()
    for k, v in ckpt["state_dict"].items():
        k = k[len("module.") :]
        if not k.startswith("fc."):
            torch.testing.assert_close(own[k], v, rtol=0, atol=0)
    assert own["classifier.weight"].shape == (61, 512)


def test_mismatched_checkpoint_lists_layers_and_nonstrict_logs(tmp_path, caplog):
    path = tmp_path / "p3d63.pth.tar"
    torch.save(_p3d_public_state(depth=63), path)
    with pytest.raises(BenchError) as err:
        EXPERTS["p3d"].build(61, {"depth": 131, "width": "small", "pretrained": str(path)}, FLOW)
    msg = str(err.value)
    assert "missing in the checkpoint" in msg and "layer3.6.conv1.weight" in msg and str(path) in msg
    with pytest.raises(
        BenchError,
        match=r"shape mismatch .*conv1_custom.weight: \(16, 2, 1, 7, 7\) -> "
        r"\(32, 2, 1, 7, 7\)",
    ):
        EXPERTS["p3d"].build(61, {"depth": 63, "width": 32, "pretrained": str(path)}, FLOW)
    caplog.set_level(logging.WARNING)
    model = EXPERTS["p3d"].build(
        61, {"depth": 131, "width": "small", "pretrained": str(path), "pretrained_strict": False}, FLOW
    )
    assert "skipped" in caplog.text and "layer3.6.conv1.weight" in caplog.text
    report = checkpoints.load_pretrained(EXPERTS["p3d"], model, path, strict=False)
    assert report["missing"] and not report["mismatched"] and report["loaded"] > 100


class NotWeights:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_unsafe_and_missing_checkpoints_are_refused(tmp_path, monkeypatch):
    bad = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": NotWeights()}, bad)
    with pytest.raises(BenchError, match="weights_only=True"):
        checkpoints.load_state(bad)
    with pytest.raises(BenchError, match="does not exist"):
        checkpoints.load_state(tmp_path / "nope.pt")
    torch.save({"epoch": 3}, tmp_path / "empty.pt")
    with pytest.raises(BenchError, match="holds no tensors"):
        checkpoints.unwrap(checkpoints.load_state(tmp_path / "empty.pt"))
    # pretrained lookup: hub cache, never a download
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(BenchError, match="I3D_8x8_R50.pyth") as err:
        EXPERTS["i3d"].build(61, {"width": "small", "pretrained": "auto"})
    assert "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/I3D_8x8_R50.pyth" in str(err.value)
    model = EXPERTS["i3d"].build(61, {"width": "small"})
    cached = tmp_path / "hub" / "checkpoints" / "I3D_8x8_R50.pyth"
    checkpoints.save_state(model.state_dict(), cached)
    assert checkpoints.pretrained_path("auto", filename="I3D_8x8_R50.pyth", url=None, what="i3d") == cached
    assert checkpoints.pretrained_path("/elsewhere/I3D_8x8_R50.pyth", filename="x", url=None, what="i3d") == cached
    again = EXPERTS["i3d"].build(61, {"width": "small", "pretrained": "auto"})  # own layout incl. classifier
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())
    # no public file to look up: say so; timm's `true` is timm's own hub, not a file
    with pytest.raises(BenchError, match="stgcn has no public checkpoint"):
        EXPERTS["stgcn"].build(61, {"pretrained": "auto"})
    assert EXPERTS["timm"].pretrained_file(True) is None
    assert EXPERTS["timm"].pretrained_file(str(cached)) == cached


class FailsToSave:
    def __reduce__(self):
        raise RuntimeError("this save fails half-way")


def test_save_state_is_atomic_and_round_trips(tmp_path):
    sd = {"a": torch.arange(3.0), "b": torch.ones(2, 2)}
    path = checkpoints.save_state(sd, tmp_path / "sub" / "w.pt")
    assert sorted(p.name for p in path.parent.iterdir()) == ["w.pt"]
    back = checkpoints.load_state(path)
    assert all(torch.equal(back[k], sd[k]) for k in sd)
    # a save that fails half-way leaves the previous file whole and no temporary behind
    with pytest.raises(RuntimeError, match="fails half-way"):
        checkpoints.save_state({"a": torch.zeros(1), "b": FailsToSave()}, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["w.pt"]
    assert all(torch.equal(checkpoints.load_state(path)[k], sd[k]) for k in sd)


def test_full_size_builds_are_fast_and_right():
    t0 = time.perf_counter()
    p3d = EXPERTS["p3d"].build(61, {"depth": 199}, FLOW)
    assert sum(p.numel() for p in p3d.parameters()) == 65_794_493
    assert p3d.state_dict()["conv1_custom.weight"].shape == (64, 2, 1, 7, 7)
    assert EXPERTS["p3d"].feature_dim({"depth": 199}) == 2048 and p3d.classifier.in_features == 2048
    i3d = EXPERTS["i3d"].build(61, {})
    assert EXPERTS["i3d"].feature_dim({}) == 2048 and i3d.classifier.in_features == 2048
    assert sum(p.numel() for p in i3d.parameters()) == 27_348_861  # 28.0M of i3d_r50 with a 61-class head
    assert time.perf_counter() - t0 < 20
