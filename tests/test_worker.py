"""Worker pieces that run in the section's child; CUDA is mocked only at the torch boundary."""

from __future__ import annotations

import random
import sys
import types

import pytest

from lecturebuild import worker


class FakeCuda:
    def __init__(self, available):
        self.available = available

    def is_available(self):
        return self.available

    def get_device_name(self, index):
        return "NVIDIA H100 80GB HBM3"


def fake_torch(available):
    calls = []
    module = types.SimpleNamespace(__version__="2.13.0", cuda=FakeCuda(available),
                                   version=types.SimpleNamespace(cuda="13.0"),
                                   set_default_device=calls.append, manual_seed=calls.append)
    return module, calls


def test_cuda_device_sets_the_default_device_and_names_the_gpu(monkeypatch):
    torch, calls = fake_torch(available=True)
    monkeypatch.setitem(sys.modules, "torch", torch)
    device = worker._select_device("cuda")
    assert calls == ["cuda"]
    assert (device.kind, device.name, device.cuda) == ("cuda", "NVIDIA H100 80GB HBM3", "13.0")
    assert device.description.startswith("NVIDIA H100 80GB HBM3, CUDA 13.0, torch 2.13.0")


def test_cuda_without_a_gpu_fails_the_section_clearly(monkeypatch):
    torch, calls = fake_torch(available=False)
    monkeypatch.setitem(sys.modules, "torch", torch)
    with pytest.raises(RuntimeError, match="torch.cuda.is_available\\(\\) is False"):
        worker._select_device("cuda")
    assert calls == []


def test_cpu_never_touches_cuda(monkeypatch):
    torch, calls = fake_torch(available=True)
    monkeypatch.setitem(sys.modules, "torch", torch)
    device = worker._select_device("cpu")
    assert device.kind == "cpu" and device.cuda == "" and calls == []


def test_seeding_is_the_same_for_every_section():
    torch = pytest.importorskip("torch")
    worker.seed_everything(3)
    first = (random.random(), torch.rand(2).tolist())
    worker.seed_everything(3)
    assert (random.random(), torch.rand(2).tolist()) == first


def test_cuda_peak_memory_is_recorded_only_on_cuda(monkeypatch):
    from lecturebuild.model import Device

    torch, _ = fake_torch(available=True)
    torch.cuda.max_memory_allocated = lambda: 3 * 2**30
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert worker._cuda_peak(Device("cuda", "GPU", "2.13.0", "3.11")) == {"cuda": 3072.0}
    assert worker._cuda_peak(Device("cpu", "CPU", "2.13.0", "3.11")) == {}
