"""Which device sections run on, and what it is: resolved in the build without importing torch, described
in the section process after the section ran (naming a GPU starts CUDA)."""

from __future__ import annotations

import functools
import platform
import sys
from importlib import metadata
from pathlib import Path

from lecturebuild import version as lecturebuild_version
from lecturebuild.errors import DeviceError
from lecturebuild.model import Device

DEVICES = ("auto", "cpu", "cuda")


def torch_version() -> str:
    """The installed torch's version, read from its metadata: the build never imports torch."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


def cuda_present() -> bool:
    """A CUDA-enabled torch and an NVIDIA driver on this machine (checked without importing torch)."""
    return "+cpu" not in torch_version() and torch_version() != "none" and Path("/dev/nvidiactl").exists()


def resolve_device(request: str, remote: bool = False) -> str:
    """'auto' -> 'cuda' where CUDA is present, else 'cpu'. Asking for 'cuda' without it is an error, unless
    the sections run elsewhere (`remote`: on a Dask cluster, whose workers check it themselves)."""
    if request not in DEVICES:
        raise DeviceError(f"unknown device {request!r}: use one of {', '.join(DEVICES)}")
    if request == "cuda" and not remote and not cuda_present():
        raise DeviceError(f"device 'cuda' was asked for, but this machine has no CUDA device usable by torch "
                          f"{torch_version()} (a CPU build or no NVIDIA driver); use device=auto or device=cpu")
    if request == "auto":
        return "cuda" if cuda_present() else "cpu"
    return request


@functools.lru_cache(maxsize=None)  # read once in the worker, before it forks
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


@functools.lru_cache(maxsize=None)  # read once in the worker, before it forks
def cpu_capability() -> str:
    torch = sys.modules.get("torch")
    return torch.backends.cpu.get_cpu_capability() if torch is not None else ""


def check_device(kind: str) -> None:
    """Fail clearly where the build asked for CUDA and this process cannot have it (touches no GPU)."""
    torch = sys.modules.get("torch")
    if kind == "cuda" and (torch is None or not torch.cuda.is_available()):
        raise RuntimeError("device 'cuda' was asked for, but torch.cuda.is_available() is False here")


def describe_device(kind: str) -> Device:
    """The device a section ran on; called after it ran, since naming a GPU starts CUDA."""
    torch = sys.modules.get("torch")
    version = torch.__version__ if torch else "none"
    python = platform.python_version()
    isa = cpu_capability()
    tool = {"lecturebuild": lecturebuild_version.version(), "commit": lecturebuild_version.commit()}
    if kind == "cuda":
        return Device("cuda", torch.cuda.get_device_name(0), version, python, torch.version.cuda or "", isa=isa, **tool)
    return Device("cpu", cpu_name(), version, python, isa=isa, **tool)
