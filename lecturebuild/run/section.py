"""Running sections inside a section process: the code whose behaviour decides what a run prints.

A section process is forked from the worker (pool.py) and runs one section at a time. It keeps what it
ran: the lecture, the sections in the order it ran them, and their namespace. A later section that
needs exactly those sections (and maybe more) continues from there instead of running them again:

    required(B) = the setup, then the sections B needs, in lecture order
    a process that has run h can run B when h is a prefix of required(B): it replays the rest of
    required(B) with output discarded, then runs B with output captured

A fresh replay and a continuation run the same code in the same order from the same seeds, so they
print the same; tests compare them. Each run:

    seeds the random generators before the setup and before every section (a sequential lecture: once);
    records which course files the process opened (they join the section's cache key);
    writes its SectionResult to a hand-off file that the worker checks, completes and moves into place.
"""

from __future__ import annotations

import builtins
import json
import os
import platform
import re
import resource
import shutil
import signal
import stat
import sys
import threading
import types
from dataclasses import replace
from pathlib import Path

from lecturebuild.model import (
    SETUP_ID,
    Device,
    File,
    Lecture,
    Limits,
    ModuleInfo,
    SectionResult,
    SnippetRun,
    TensorInfo,
    now,
    required,
    value_from_data,
)
from lecturebuild.prelude import seed_everything
from lecturebuild.run.device import check_device, describe_device
from lecturebuild.run.processes import children, end_leftovers
from lecturebuild.store import Store, file_digest, write_atomic

# ----------------------------------------------------------------------------------------------
# The child: runs one section


class _ReadRecorder:
    """Records, via an audit hook, the course files a section opens for reading (data files, local
    modules: they join its cache key) and those it opens for writing (the course itself is no place to
    write: that fails the section)."""

    def __init__(self, root: Path, build: Path):
        self.root, self.build, self.paths, self.written = str(root), str(build), set(), set()

    def __call__(self, event: str, args: tuple) -> None:
        if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        mode, flags = (args[1] if len(args) > 1 else None), (args[2] if len(args) > 2 else 0)
        writes = ((isinstance(mode, str) and any(c in mode for c in "wax+"))
                  or (mode is None and isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR))))
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(self.root + os.sep) and not path.startswith(self.build + os.sep):
            (self.written if writes else self.paths).add(path)

    def course_files_written(self) -> list[str]:
        return sorted(os.path.relpath(p, self.root) for p in self.written)

    def digests(self) -> dict[str, str]:
        root = Path(self.root)
        return {str(Path(p).relative_to(root)): file_digest(Path(p)) for p in sorted(self.paths) if Path(p).is_file()}


def _on_cpu(values) -> bool:
    """Whether a section's values include a tensor or a model on the CPU (it did torch work there)."""
    return _holds_cpu_value(value_from_data(values))


def _holds_cpu_value(value) -> bool:
    if isinstance(value, (TensorInfo, ModuleInfo)):
        return value.device == "cpu"
    if isinstance(value, list):
        return any(_holds_cpu_value(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_cpu_value(v) for v in value.values())
    return False


UNUSED_GPU = ("ran on CUDA but never used the GPU: its models and tensors stayed on the CPU "
              "(place them with .to(device))")


def _note_memory_limit(run: SnippetRun, megabytes: int) -> SnippetRun:
    """Name the memory limit in an allocation failure, so the message says which limit was hit."""
    error = run.error
    if not megabytes or error is None or not (error.ename == "MemoryError" or "allocate" in error.evalue):
        return run
    noted = replace(error, evalue=f"{error.evalue} (the section's memory limit is {megabytes} MB)")
    return replace(run, outputs=tuple(noted if o is error else o for o in run.outputs))


def _cuda_peak(device: Device) -> dict[str, float]:
    torch = sys.modules.get("torch")
    if device.kind != "cuda" or torch is None:
        return {}
    return {"cuda": round(torch.cuda.max_memory_allocated() / 2**20, 4)}  # a small model's few KB count too


def _cuda_allocations() -> int:
    """How many GPU allocations this process has made; 0 while it has not started CUDA."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return 0
    return torch.cuda.memory_stats().get("allocation.all.allocated", 0)


def _new_namespace(lecture: Lecture, device: str) -> dict:
    """What a section's code starts from: `device`, the torch.device to place models and data on, with
    the lecture's float precision set (the notebook and script prelude do the same)."""
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    if (torch := sys.modules.get("torch")) is not None:
        from lecturebuild.prelude import precision_code

        exec(precision_code(lecture.precision), {"torch": torch})
        namespace["device"] = torch.device(device)
    return namespace


def _reseed(lecture: Lecture, device: str) -> None:
    """Every section starts from the lecture's seed, except in a sequential lecture: there the random
    stream seeded before the setup runs on through all sections, as in a notebook run top to bottom."""
    if not lecture.sequential:
        seed_everything(lecture.seed, device)


def _publish_files(snippet, destination: Path) -> tuple[tuple[File, ...], str]:
    """Copy the files a snippet declared from its working folder to the results; a missing one is a failure."""
    files = []
    for name in snippet.files:
        source = Path(name)
        if not source.is_file():
            return tuple(files), f"{snippet.file} declares the file {name!r} (:files:) but did not write it"
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, source.read_bytes())
        files.append(File(file=f"{destination.name}/{name}", size=target.stat().st_size))
    return tuple(files), ""


class SectionProcess:
    """The state of one section process: what it ran, for whom, and how its sections end."""

    def __init__(self, root: Path, build: Path):
        self.root, self.build = root, build
        self.lecture: str | None = None
        self.history: tuple[str, ...] = ()  # the sections run here, in order; SETUP_ID for the setup
        self.namespace: dict | None = None
        self.recorder: _ReadRecorder | None = None
        self.scratch = Path()  # the working folder its sections ran in
        self._limits, self._begun = Limits(), (lambda: None)

    def can_continue(self, lecture: Lecture, section: str) -> bool:
        need = required(lecture, section)
        return self.lecture in (None, lecture.name) and need[:len(self.history)] == self.history

    def forkable(self) -> bool:
        """Whether a fork of this process can go on where it stands. Not where CUDA started (a forked child
        cannot use it), where torch ran on more than one thread (OpenMP's pool hangs in a forked child),
        or where the sections started threads or processes (a fork would run without them)."""
        torch = sys.modules.get("torch")
        if torch is not None and (torch.cuda.is_initialized() or torch.get_num_threads() > 1):
            return False
        return (threading.active_count() == 1 and not children(os.getpid()) and not self._bound_to_folder()
                and _copyable(self.scratch))

    def _bound_to_folder(self) -> bool:
        """Whether what the sections left refers to their working folder by its path: a file kept open there
        (a logging handler, a CSV being written) or a path made absolute (`Path("out").resolve()`). A fork
        runs in a copy of the folder elsewhere, so those would point at the original."""
        folder, real = str(self.scratch), os.path.realpath(self.scratch)
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith(real + os.sep):
                    return True
            except OSError:
                continue
        return any(_mentions(value, folder) for name, value in (self.namespace or {}).items() if not name.startswith("__"))

    def run(self, lecture: Lecture, job, limits: Limits, device: str, handoff: Path, keep: set[int],
            forked: bool = False, begun=lambda: None) -> bool:
        """Run `job` (its process can continue to it) and write its result to `handoff`; whether this process
        ended cleanly enough to serve a later section. `keep`: this process's own forks, not leftovers;
        `forked`: this process is a fork of the one that ran what it holds (else it is that process);
        `begun()` is called when the section's own code starts, after what it replays."""
        store = Store(self.build)
        reused = self.history
        self._enter(lecture, job, store, forked)
        self._limits, self._begun = limits, begun
        runs: list[SnippetRun] = []
        values: dict = {}
        notes: list[str] = []
        memory: dict[str, float] = {}
        try:
            check_device(device)
            failure = ""
        except Exception as exc:  # noqa: BLE001 - reported as the section's failure
            failure = str(exc)
        kind = Device(device, "", "", platform.python_version())
        if not failure:
            from lecturebuild.run.capture import OutputBudget

            spill = store.output_log_path(lecture.name, job.section)
            budget = OutputBudget(limits.output, spill, os.path.relpath(spill, self.root))
            try:
                runs, values, failure, used_gpu = self._run(lecture, job.section, store, device, budget)
            finally:
                budget.close()
            runs = [_note_memory_limit(run, limits.memory) for run in runs]
            kind = describe_device(device)
            memory = _cuda_peak(kind)
            if kind.kind == "cuda" and job.section != SETUP_ID and not used_gpu and not failure and _on_cpu(values):
                notes.append(UNUSED_GPU)
        written = self.recorder.course_files_written()
        if written and not failure:
            failure = (f"it wrote {', '.join(written)}, in the course itself; a section may write only in its "
                       "working folder (declare files for students with :files:); check and remove what it wrote")
        memory = {"rss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), **memory}
        result = SectionResult(
            lecture=lecture.name, section=job.section, key=job.key, inputs=job.inputs, runs=tuple(runs),
            values=values, device=kind, seconds=round(sum(r.seconds for r in runs), 6), finished=now(),
            failure=failure, reads=self.recorder.digests(), memory=memory, notes=tuple(notes), reused=reused)
        sys.stdout.flush()
        sys.stderr.flush()
        write_atomic(handoff, json.dumps(result.to_data(), ensure_ascii=False))
        # A timer a section left running would fire in the process while it waits, or be lost in a fork.
        timer = signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0)
        clean = result.ok and not end_leftovers(keep) and not timer
        self.history = required(lecture, job.section) + (job.section,) if clean else ("(spent)",)
        _set_memory_limit(None)
        os.dup2(_QUIET, 1)  # while it waits, nothing it prints goes into the section's log
        os.dup2(_QUIET, 2)
        return clean

    def _enter(self, lecture: Lecture, job, store: Store, forked: bool) -> None:
        """Point output at the section's log and the working folder at its own (a process that goes on keeps
        the folder its sections ran in, as a replay would have run them all in one); the first time, join
        the lecture."""
        log = store.log_path(lecture.name, job.section)
        log.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        scratch = store.scratch_dir(lecture.name, job.section)
        shutil.rmtree(store.files_dir(lecture.name, job.section), ignore_errors=True)
        if self.history and not forked:
            return self._join(lecture)
        shutil.rmtree(scratch, ignore_errors=True)  # every run starts clean: no leftovers of an earlier one
        where = scratch
        if self.history and self.scratch.is_dir():
            # What the earlier sections left in their working folder, and the folder they left the process
            # in (a snippet may change it), as a replay in this section's own folder would leave them.
            shutil.copytree(self.scratch, scratch, symlinks=True)
            try:
                inside = os.path.relpath(os.getcwd(), self.scratch)
                where = scratch / inside if not inside.startswith("..") else Path(os.getcwd())
            except FileNotFoundError:  # they removed it
                pass
        elif not self.history:
            scratch.mkdir(parents=True, exist_ok=True)
            data = self.root / "data"
            if data.is_dir():
                (scratch / "data").symlink_to(data)  # course data files read as data/<name>
                for entry in sorted(data.iterdir()):  # and as <name>, as beside the notebook they came from
                    if entry.name != "data" and not entry.name.startswith("."):
                        (scratch / entry.name).symlink_to(entry)
        scratch.mkdir(parents=True, exist_ok=True)
        self.scratch = scratch
        os.chdir(where)
        self._join(lecture)

    def _join(self, lecture: Lecture) -> None:
        if self.lecture is None:
            self.lecture = lecture.name
            sys.path[:0] = [str(self.root / "snippets" / lecture.name), str(self.root)]  # local modules
            if (torch := sys.modules.get("torch")) is not None:
                # A fixed count, never one derived from jobs=: float results depend on how work is split.
                torch.set_num_threads(lecture.threads)
            self.recorder = _ReadRecorder(self.root.resolve(), self.build.resolve())
            sys.addaudithook(self.recorder)
        if (torch := sys.modules.get("torch")) is not None and torch.cuda.is_initialized():
            torch.cuda.reset_peak_memory_stats()  # the section's peak, not an earlier one's

    def _own_code_begins(self) -> None:
        """Limits count from here: what the section replays ran under its own limits when it first ran."""
        if self._limits.memory:
            _set_memory_limit(self._limits.memory)
        self._begun()

    def _run(self, lecture: Lecture, section_id: str, store: Store, device: str, budget):
        """Replay what the section needs and this process has not run, quietly; run the section; return
        (runs, values, failure, whether its own code used the GPU)."""
        from lecturebuild.run import capture

        figures = capture.FigureSink(store.figures_dir(lecture.name))
        quiet = capture.FigureSink(None)
        if self.namespace is None:
            self.namespace = _new_namespace(lecture, device)
            seed_everything(lecture.seed, device)
        namespace = self.namespace
        if section_id == SETUP_ID:
            self._own_code_begins()
            return [capture.run_snippet(lecture.setup, namespace, figures, budget)], {}, "", False
        for needed in required(lecture, section_id)[len(self.history):]:
            if needed == SETUP_ID:
                error = capture.run_snippet(lecture.setup, namespace, quiet).error
                if error is not None:
                    return [], {}, f"the lecture's setup failed at {error.location}: {error.ename}: {error.evalue}", False
                continue
            _reseed(lecture, device)
            for snippet in lecture.section(needed).snippets:
                error = capture.run_snippet(snippet, namespace, quiet).error
                if error is not None and not error.expected:
                    return [], {}, (f"section {needed!r}, which this one needs, failed when replayed, at "
                                    f"{error.location}: {error.ename}: {error.evalue}"), False
        _reseed(lecture, device)
        self._own_code_begins()
        section = lecture.section(section_id)
        before = dict(namespace)
        allocations = _cuda_allocations()
        runs, failure = [], ""
        for snippet in section.snippets:
            run = capture.run_snippet(snippet, namespace, figures, budget)
            error = run.error
            if snippet.files and error is None:
                files, failure = _publish_files(snippet, store.files_dir(lecture.name, section_id))
                run = replace(run, outputs=run.outputs + files)
            runs.append(run)
            if failure or (error is not None and not error.expected):
                break
            if snippet.raises and error is None:
                failure = f"{snippet.file} is marked ':raises: {snippet.raises}' but raised nothing"
                break
        return runs, capture.summarise(namespace, before), failure, _cuda_allocations() > allocations


_QUIET = os.open(os.devnull, os.O_WRONLY)
_UNLIMITED = resource.getrlimit(resource.RLIMIT_AS)


def _set_memory_limit(megabytes: int | None) -> None:
    """Cap the address space at what the process maps now plus `megabytes` (None: as it started)."""
    if megabytes is None:
        resource.setrlimit(resource.RLIMIT_AS, _UNLIMITED)
        return
    status = Path("/proc/self/status").read_text()
    mapped = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mapped + megabytes * 2**20, _UNLIMITED[1]))


def _mentions(value, folder: str, depth: int = 0) -> bool:
    """Whether a value, or one it holds (one level of containers and attributes), names a path in `folder`."""
    if isinstance(value, (str, os.PathLike)):
        return folder in os.fspath(value) if isinstance(os.fspath(value), str) else False
    if depth >= 1 or isinstance(value, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
        return False
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        items = list(getattr(value, "__dict__", {}).values()) if not isinstance(value, type) else []
    return any(_mentions(item, folder, depth + 1) for item in items[:1000])


def _copyable(folder: Path, limit: int = 512 * 2**20) -> bool:
    """Whether a fork can have its own copy of the working folder: only files, folders and links, and not
    more than `limit` bytes."""
    total = 0
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(base, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                return False
            total += os.lstat(path).st_size if stat.S_ISREG(mode) else 0
    return total <= limit


