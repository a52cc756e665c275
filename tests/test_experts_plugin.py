"""Registration is cheap and complete; the graph, flips and crops do what REFERENCE.md says."""

import subprocess
import sys

import numpy as np
import pytest

from benchmark.config.registry import ComponentRegistry
from benchmark.engine import transforms
from benchmark.interfaces import Expert
from benchmark.joints import SKELETON_JOINTS
from experts import graph
from experts.plugin import EXPERTS, register_experts
from tests.test_experts_train import FLOW, expert_training

COMPONENT_MODULES = (
    "experts.plugin",
    "experts.i3d",
    "experts.p3d",
    "experts.stgcn",
    "experts.x3d",
    "experts.r2plus1d",
    "experts.timm_expert",
    "experts.skeleton_transformer",
)


def test_expert_classes_import_without_torch():
    """Listing or validating experts must not pay for torch: only creating a model imports it."""
    code = (
        f"import sys, {', '.join(COMPONENT_MODULES)}; "
        "heavy = [m for m in ('torch', 'pytorchvideo', 'timm', 'cv2', 'mediapipe') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plugin_registers_all():
    reg = ComponentRegistry("expert")
    register_experts(reg)
    assert reg.names() == ["i3d", "p3d", "stgcn", "x3d", "r2plus1d", "timm", "skeleton-transformer"]
    for cls, name in zip(EXPERTS, reg.names()):
        expert = reg.get(name)
        assert type(expert) is cls and isinstance(expert, Expert) and expert.name == name
        assert expert.description and reg.component(name).description == cls.description
        assert not {"pretrained", "pretrained_strict", "in_channels"} & set(cls.defaults)  # the base's keys
    assert reg.get("stgcn").training_defaults == {"optimizer": "adam", "lr": 5.0e-4, "weight_decay": 1.0e-5}
    assert reg.get("i3d").training_defaults == {}
    dims = {n: reg.get(n).feature_dim({}) for n in reg.names()}
    assert dims == {
        "i3d": 2048,
        "p3d": 2048,
        "stgcn": 256,
        "x3d": 2048,
        "r2plus1d": 2048,
        "timm": 512,
        "skeleton-transformer": 128,
    }
    assert 2 * dims["i3d"] + dims["p3d"] + dims["stgcn"] == 6400  # the reference's concatenated clip feature
    assert reg.get("i3d").feature_dim({"width": "small"}) == 512


def test_input_channels_come_from_the_modality_unless_set():
    i3d = EXPERTS[0]()
    assert i3d.build(5, {"width": "small"}, FLOW).blocks[0].conv.in_channels == 2
    assert i3d.build(5, {"width": "small"}).blocks[0].conv.in_channels == 3  # no modality: RGB
    assert i3d.build(5, {"width": "small", "in_channels": 4}, FLOW).blocks[0].conv.in_channels == 4


def test_graph_is_connected_and_partitioned():
    hops = graph.hop_distance(SKELETON_JOINTS, graph.edges())
    assert np.isfinite(hops).all()
    a = graph.spatial_adjacency()
    assert a.shape == (3, 57, 57)
    np.testing.assert_allclose(a.sum(axis=(0, 1)), 1.0, rtol=1e-5)  # normalised per joint over partitions
    assert (a[1] > 0).sum() > 57 and (a[2] > 0).sum() > 0  # centripetal and centrifugal subsets are used
    perm = graph.flip_permutation()
    assert (perm[perm] == np.arange(57)).all()
    assert perm[9] == 10 and perm[15] == 36 and perm[36 + 8] == 15 + 8 and perm[0] == 0
    flipped_edges = {tuple(sorted((perm[i], perm[j]))) for i, j in graph.edges()}
    assert flipped_edges == {tuple(sorted(e)) for e in graph.edges()}  # the flip maps the skeleton onto itself


def test_video_crop_flip_and_scaling():
    rng = np.random.default_rng(0)
    w = np.zeros((4, 8, 10, 10, 3), dtype=np.uint8)
    w[..., :, 0:5, :] = 255  # left half white
    x = transforms.clip_input(w, False, expert_training(input_size=6), None)
    assert tuple(x.shape) == (4, 3, 8, 6, 6) and float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert (x[:, :, :, :, :3] == 1).all() and (x[:, :, :, :, 3:] == -1).all()  # centre crop 2..8
    xs = transforms.clip_input(w, True, expert_training(input_size=6, hflip=1.0), rng)
    assert (xs[:, :, :, :, -1] == 1).all()  # always flipped: white on the right
    # flow: a flipped clip's horizontal motion changes sign exactly, vertical does not
    f = np.full((2, 8, 8, 8, 2), 200, dtype=np.uint8)
    plain = transforms.clip_input(f, False, expert_training(input_size=8), None)
    flip = transforms.clip_input(f, True, expert_training(input_size=8, hflip=1.0), np.random.default_rng(0))
    np.testing.assert_allclose(flip[:, 0].numpy(), -plain[:, 0].numpy())
    np.testing.assert_allclose(flip[:, 1].numpy(), plain[:, 1].numpy())
    # training draws are reproducible from the generator
    a = transforms.clip_input(
        np.random.default_rng(1).integers(0, 255, (3, 8, 12, 12, 3), dtype=np.uint8),
        True,
        expert_training(input_size=8),
        np.random.default_rng(5),
    )
    b = transforms.clip_input(
        np.random.default_rng(1).integers(0, 255, (3, 8, 12, 12, 3), dtype=np.uint8),
        True,
        expert_training(input_size=8),
        np.random.default_rng(5),
    )
    assert (a == b).all()


def test_skeleton_flip_swaps_sides_and_never_at_test_time():
    s = np.random.default_rng(0).standard_normal((2, 8, 57, 3)).astype(np.float32)
    s[0, 0, 5, 1] = np.nan
    test = transforms.clip_input(s, False, expert_training(hflip=1.0), None)
    assert tuple(test.shape) == (2, 3, 8, 57) and not test.isnan().any()
    np.testing.assert_array_equal(test[1].numpy(), s[1].transpose(2, 0, 1))
    train = transforms.clip_input(s, True, expert_training(hflip=1.0), np.random.default_rng(0)).numpy()
    np.testing.assert_allclose(train[1, 0, :, 36:57], -s[1, :, 15:36, 0])  # right hand <- mirrored left hand
    np.testing.assert_allclose(train[1, 1, :, 10], s[1, :, 9, 1])  # right shoulder y <- left shoulder y
    with pytest.raises(ValueError, match="Generator"):
        transforms.clip_input(s, True, expert_training(), None)


def test_training_precedence():
    from benchmark.engine.expert_training import training_for
    from experts.i3d import I3DExpert
    from experts.stgcn import STGCNExpert

    entry = expert_training(optimizer="adamw", lr=1e-4, weight_decay=0.05, epochs=3)
    stgcn = STGCNExpert()
    t = training_for(stgcn, entry)
    assert (t["optimizer"], t["lr"], t["weight_decay"], t["epochs"]) == ("adam", 5e-4, 1e-5, 3)
    assert set(t) == set(entry)  # complete: every trainer key, none added
    assert training_for(stgcn, entry, {"lr": 1e-3})["lr"] == 1e-3
    assert training_for(I3DExpert(), entry) == entry
