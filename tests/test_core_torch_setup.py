"""Device choice, optimiser and schedule shared by expert and spotter training."""

import pytest
import torch

from benchmark.errors import BenchError
from benchmark.perf.timing import time_steps
from benchmark.runtime.torch_setup import choose_device, make_optimizer, make_scheduler


def test_auto_device_follows_torch():
    assert choose_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert choose_device(None) == choose_device("auto")
    assert choose_device("CPU") == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_request_without_cuda_is_an_error():
    with pytest.raises(BenchError, match="--device cpu"):
        choose_device("cuda:0")


@pytest.mark.parametrize(
    "name, cls", [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("SGD", torch.optim.SGD)]
)
def test_optimizer_by_name(name, cls):
    p = [torch.nn.Parameter(torch.zeros(2))]
    opt = make_optimizer(p, {"optimizer": name, "lr": 0.5, "weight_decay": 0.1}, "spotter.training")
    assert isinstance(opt, cls)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["weight_decay"] == 0.1


def test_unknown_optimizer_and_missing_lr_name_the_section():
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(BenchError, match=r"expert_training\.optimizer must be one of adamw, adam, sgd, got 'lamb'"):
        make_optimizer(p, {"optimizer": "lamb", "lr": 1e-3}, "expert_training")
    with pytest.raises(BenchError, match=r"spotter\.training\.lr is missing"):
        make_optimizer(p, {"optimizer": "adam"}, "spotter.training")


def test_step_schedule_multiplies_lr_at_milestones():
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(1))], {"lr": 1.0})
    sched = make_scheduler(opt, {"milestones": [2, 4], "gamma": 0.5})
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_time_steps_counts_only_timed_calls():
    calls = []
    secs = time_steps(lambda: calls.append(1), steps=3, device="cpu", warmup=2)
    assert len(calls) == 5 and secs >= 0.0
