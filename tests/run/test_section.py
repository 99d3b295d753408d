"""What runs in a section process; CUDA is mocked only at the torch boundary."""

from __future__ import annotations

import json
import random
import sys
import types

import pytest

from lecturebuild import prelude
from lecturebuild.run import device as run_device
from lecturebuild.run import section


class FakeCuda:
    """torch.cuda as the worker sees it: `allocations` counts what the section's code put on the GPU."""

    def __init__(self, available):
        self.available, self.started, self.allocations = available, False, 0

    def is_available(self):
        return self.available

    def is_initialized(self):
        return self.started

    def memory_stats(self):
        return {"allocation.all.allocated": self.allocations}

    def get_device_name(self, index):
        self.started = True  # naming the GPU starts CUDA: the worker does it only after the section ran
        return "NVIDIA H100 80GB HBM3"


def fake_torch(available):
    calls = []
    module = types.SimpleNamespace(__version__="2.13.0", cuda=FakeCuda(available),
                                   version=types.SimpleNamespace(cuda="13.0"),
                                   backends=types.SimpleNamespace(cpu=types.SimpleNamespace(
                                       get_cpu_capability=lambda: "AVX2")),
                                   set_default_device=calls.append, manual_seed=calls.append)
    return module, calls


def test_cuda_is_described_after_the_run_and_never_made_the_default_device(monkeypatch):
    torch, calls = fake_torch(available=True)
    monkeypatch.setitem(sys.modules, "torch", torch)
    run_device.cpu_capability.cache_clear()
    run_device.check_device("cuda")
    assert not torch.cuda.started and calls == []  # checking touches no GPU and sets no default device
    device = run_device.describe_device("cuda")
    assert (device.kind, device.name, device.cuda, device.isa) == ("cuda", "NVIDIA H100 80GB HBM3", "13.0", "AVX2")
    assert device.description.startswith("NVIDIA H100 80GB HBM3, CUDA 13.0, torch 2.13.0")
    run_device.cpu_capability.cache_clear()


def test_cuda_without_a_gpu_fails_the_section_clearly(monkeypatch):
    torch, calls = fake_torch(available=False)
    monkeypatch.setitem(sys.modules, "torch", torch)
    with pytest.raises(RuntimeError, match="torch.cuda.is_available\\(\\) is False"):
        run_device.check_device("cuda")
    assert calls == []


def test_cpu_never_touches_cuda(monkeypatch):
    torch, calls = fake_torch(available=True)
    monkeypatch.setitem(sys.modules, "torch", torch)
    run_device.check_device("cpu")
    device = run_device.describe_device("cpu")
    assert device.kind == "cpu" and device.cuda == "" and calls == [] and not torch.cuda.started


def test_gpu_use_is_counted_in_allocations_only_once_cuda_has_started(monkeypatch):
    torch, _ = fake_torch(available=True)
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert section._cuda_allocations() == 0
    torch.cuda.started, torch.cuda.allocations = True, 12
    assert section._cuda_allocations() == 12


def test_only_sections_that_left_torch_work_on_the_cpu_are_noted():
    cpu_tensor = {"__tensor__": {"shape": [4, 3], "dtype": "float32", "device": "cpu"}}
    gpu_model = {"__module__": {"cls": "Linear", "parameters": 8, "trainable": 8, "device": "cuda"}}
    assert section._on_cpu({"x": cpu_tensor, "n": 3})
    assert section._on_cpu({"batch": [cpu_tensor]})
    assert not section._on_cpu({"model": gpu_model, "label": "text", "counts": [1, 2]})


def test_seeding_is_the_same_for_every_section():
    torch = pytest.importorskip("torch")
    prelude.seed_everything(3)
    first = (random.random(), torch.rand(2).tolist())
    prelude.seed_everything(3)
    assert (random.random(), torch.rand(2).tolist()) == first


def test_cuda_peak_memory_is_recorded_only_on_cuda(monkeypatch):
    from lecturebuild.model import Device

    torch, _ = fake_torch(available=True)
    torch.cuda.max_memory_allocated = lambda: 3 * 2**30
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert section._cuda_peak(Device("cuda", "GPU", "2.13.0", "3.11")) == {"cuda": 3072.0}
    assert section._cuda_peak(Device("cpu", "CPU", "2.13.0", "3.11")) == {}


# ----------------------------------------------------------------------------------------------
# Through doit: what every section starts from


def add_section(course, lecture: str, heading: str, name: str, code: str) -> None:
    """Append a section running `code` (as snippets/<lecture>/<name>) to a lecture of a course copy."""
    (course / "snippets" / lecture / name).write_text(code)
    source = course / "lectures" / f"{lecture}.md"
    source.write_text(source.read_text() + f"\n## {heading}\n\n```{{snippet}} {name}\n```\n")


def test_sections_get_the_chosen_device_and_the_lectures_precision(sample_course):
    from conftest import doit

    add_section(sample_course, "02_plots", "Where it runs {#where}", "where.py",
                "print('device', device, type(device).__name__)\n"
                "print('tf32', torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)\n")
    result = doit(sample_course)
    assert result.returncode == 0, result.stderr
    handout = (sample_course / "build" / "markdown" / "02_plots.md").read_text()
    assert "device cpu device" in handout  # a torch.device, as the build chose
    assert "tf32 False True" in handout  # PyTorch's defaults: TF32 in cuDNN only

    source = sample_course / "lectures" / "02_plots.md"
    source.write_text(source.read_text().replace("setup: setup.py\n", "setup: setup.py\nprecision: high\n"))
    result = doit(sample_course)
    assert result.returncode == 0, result.stderr
    assert "02_plots/where: runs (changed: precision default -> high)" in result.stderr
    assert "tf32 True True" in (sample_course / "build" / "markdown" / "02_plots.md").read_text()
    notebook = (sample_course / "build" / "notebooks" / "02_plots.ipynb").read_text()
    assert "torch.backends.cuda.matmul.allow_tf32 = True" in notebook  # the notebook sets what the build set

    source.write_text(source.read_text().replace("precision: high", "precision: fastest"))
    result = doit(sample_course)
    assert result.returncode == 2
    assert "lectures/02_plots.md:6: 'precision' must be one of default, high, highest, got 'fastest'" in result.stderr


def test_sets_iterate_alike_in_every_run_and_in_the_notebook(sample_course):
    from conftest import doit

    # A set made from data, as teaching code makes them. (A set *literal* is built by other bytecode in
    # an IPython kernel on Python 3.12, so its iteration order may differ there whatever the hash seed.)
    add_section(sample_course, "02_plots", "A set {#words}", "words.py",
                "print(list(set(f'word{i}' for i in range(12))))\n")
    assert doit(sample_course).returncode == 0
    result_path = sample_course / "build" / "results" / "02_plots" / "words.json"
    first = result_path.read_text()
    assert '"hash seed": "0"' in first
    result_path.unlink()  # run it again, in a new worker process
    assert doit(sample_course).returncode == 0
    printed = [json.loads(p)["runs"][0]["outputs"][0]["text"] for p in (first, result_path.read_text())]
    assert printed[0] == printed[1]
    result = doit(sample_course, "reproduce")  # a fresh Jupyter kernel iterates the set alike
    assert result.returncode == 0, result.stderr
    script = (sample_course / "build" / "site" / "02_plots.py").read_text()
    assert "PYTHONHASHSEED=0 python 02_plots.py" in script


@pytest.mark.gpu
def test_on_cuda_sections_place_their_work_with_device_and_a_section_that_does_not_is_noted(sample_course):
    from conftest import doit

    result = doit(sample_course, "device=cuda")
    assert result.returncode == 0, result.stderr
    assert "note: 01_basics/tensors ran on CUDA but never used the GPU" in result.stderr  # its tensor stays on the CPU
    assert "note: 01_basics/model" not in result.stderr and "note: 01_basics/training" not in result.stderr
    assert "note: 02_plots/markup" not in result.stderr  # it prints a string: no torch work to place
    model = json.loads((sample_course / "build" / "results" / "01_basics" / "model.json").read_text())
    assert model["device"]["kind"] == "cuda" and model["memory"]["cuda"] > 0 and model["notes"] == []
    assert "never used the GPU" in (sample_course / "build" / "site" / "report.html").read_text()
