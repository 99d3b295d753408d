"""Which sections must run, and why: a cache keyed per section by everything that can change its output.

A section's key hashes its snippet code, the lecture's setup code, seed, threads and float precision,
Python's hash seed, the keys of the sections it needs, the device kind, the torch and Python versions and the code of the executor itself. The
course files a run opened (data files, local modules; recorded while it ran, replayed sections
included) are checked too. Prose and templates are not inputs, so editing them never runs code.
The stored result is the cache: a section is fresh when its stored result has the same key, the
files it read are unchanged, and it ran to the end.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .errors import DeviceError
from .model import HASH_SEED, SETUP_ID, Lecture, Limits, Section, SectionResult, Snippet
from .store import file_digest

DEVICES = ("auto", "cpu", "cuda")
_PACKAGE = Path(__file__).resolve().parent
EXECUTOR_FILES = ("capture.py", "figures.py", "section.py", "model.py", "script.py")  # the code that runs snippets and records results


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class RunEnvironment:
    """The inputs every section shares: where and with what it runs."""

    device: str  # resolved kind: "cpu" or "cuda"
    torch: str
    python: str
    executor: str  # digest of EXECUTOR_FILES

    @classmethod
    def detect(cls, request: str) -> "RunEnvironment":
        device = request if request in ("cpu", "cuda") else resolve_device(request)  # resolved: checked already
        return cls(device=device, torch=torch_version(), python=platform.python_version(),
                   executor=_digest(*((_PACKAGE / f).read_text(encoding="utf-8") for f in EXECUTOR_FILES)))


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


@dataclass(frozen=True)
class Job:
    """One section to run: `section` is SETUP_ID for the lecture's setup."""

    section: str
    key: str
    inputs: dict[str, str]
    reason: str
    limits: Limits = Limits()  # the section's own, over its lecture's; the build fills in the rest


def _snippets_digest(snippets: tuple[Snippet, ...]) -> str:
    return _digest(*(f"{s.name}\n{s.raises}\n{s.code}" for s in snippets))


def lecture_inputs(lecture: Lecture, env: RunEnvironment) -> dict[str, dict[str, str]]:
    """The inputs of the setup and of every section with code, by section id, in lecture order."""
    common = {"device": env.device, "torch": env.torch, "python": env.python, "executor": env.executor,
              "seed": str(lecture.seed), "threads": str(lecture.threads), "precision": lecture.precision,
              "hash seed": HASH_SEED,
              "setup": _snippets_digest((lecture.setup,)) if lecture.setup else "none"}
    if lecture.sequential:
        common["random state"] = "one stream through the lecture"
    table = {SETUP_ID: dict(common)}
    keys: dict[str, str] = {}
    for section in lecture.runnable:
        inputs = dict(common, code=_snippets_digest(section.snippets))
        for need in section.needs:
            inputs[f"needs {need}"] = keys.get(need, "no code")
        table[section.id] = inputs
        keys[section.id] = key_of(inputs)
    return table


def lecture_keys(lecture: Lecture, env: RunEnvironment) -> dict[str, str]:
    return {sid: key_of(inputs) for sid, inputs in lecture_inputs(lecture, env).items()}


def key_of(inputs: dict[str, str]) -> str:
    return _digest(json.dumps(inputs, sort_keys=True))


def plan_lecture(lecture: Lecture, env: RunEnvironment, stored: dict[str, SectionResult | None],
                 root: Path) -> list[Job]:
    """The sections whose stored result is missing, failed, made from other inputs or from other files."""
    jobs = []
    for section, inputs in lecture_inputs(lecture, env).items():
        if section == SETUP_ID and lecture.setup is None:
            continue
        key = key_of(inputs)
        previous = stored.get(section)
        if previous is not None and previous.key == key and previous.ok and not changed_reads(previous, root):
            continue
        own = lecture.section(section).limits if section != SETUP_ID else Limits()
        jobs.append(Job(section=section, key=key, inputs=inputs, reason=why(previous, inputs, root),
                        limits=own.over(lecture.limits)))
    return jobs


def changed_reads(previous: SectionResult, root: Path) -> list[str]:
    """The course files the previous run read that have changed since (or disappeared)."""
    return [path for path, digest in sorted(previous.reads.items()) if file_digest(root / path) != digest]


def why(previous: SectionResult | None, inputs: dict[str, str], root: Path) -> str:
    """A short reason a section runs, naming the inputs that changed."""
    if previous is None:
        return "not run before"
    if previous.key == key_of(inputs):
        files = changed_reads(previous, root)
        return f"changed: {', '.join(files)}" if files and previous.ok else "its last run failed"
    changed = sorted(name for name in inputs.keys() | previous.inputs.keys()
                     if inputs.get(name) != previous.inputs.get(name))
    labels = {"code": "snippet code", "setup": "setup code", "executor": "lecturebuild's executor"}
    described = []
    for name in changed:
        if name in ("device", "torch", "python", "precision"):
            described.append(f"{name} {previous.inputs.get(name, '?')} -> {inputs.get(name, '?')}")
        else:
            described.append(labels.get(name, name))
    return "changed: " + ", ".join(described)


def sections_to_replay(lecture: Lecture, section_id: str) -> tuple[Section, ...]:
    if section_id == SETUP_ID:
        return ()
    return lecture.closure(lecture.section(section_id))
