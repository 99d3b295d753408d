"""The worker: a separate, long-lived interpreter that runs sections for the build.

    python -m lecturebuild.worker     reads pickled ([(Lecture, Job)], WorkerOptions) requests on stdin

It imports torch, numpy and matplotlib once, then forks one child per section, so a section pays a
fork (milliseconds) instead of an interpreter start and a torch import (over a second). One worker
serves every lecture a build process executes. The worker never runs a torch operation and never
touches CUDA: each child initialises CUDA itself, which is safe, and whatever a section allocates
dies with its child, so memory cannot grow from one section to the next. Each child:

    runs the setup, replays the sections it needs with their output discarded, then runs its own
    snippets with output captured, each of these after seeding the random generators alike;
    records which course files it opened (they join the section's cache key);
    writes its SectionResult to a hand-off file that the worker checks, completes and moves into place.

A child that crashes, exits early or runs past its time limit leaves no valid hand-off file; the
worker then records a failure saying what ended it. Progress goes to the build as JSON lines on
stdout, ending each request with {"event": "end"}.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import pickle
import platform
import random
import re
import select
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from .errors import os_problem
from .model import BUILD_LIMITS, SETUP_ID, Device, File, Lecture, Limits, SectionResult, SnippetRun
from .store import Store, file_digest, read_result, write_atomic


@dataclass(frozen=True)
class WorkerOptions:
    device: str  # resolved: "cpu" or "cuda"
    build: Path
    root: Path  # the course folder: files opened below it are recorded as the section's reads
    jobs: int = 1  # sections run at once
    limits: Limits = BUILD_LIMITS  # for sections and lectures that set none of their own


def _warm_up(lecture: Lecture) -> None:
    """Import what snippets import, once, before forking."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # torch.cuda.is_available() without a CUDA context
    modules = ["numpy", "numpy.random", "torch", "matplotlib.pyplot"]  # numpy.random loads lazily: 20 ms a section
    codes = [s.code for section in lecture.sections for s in section.snippets]
    if any("optim" in code for code in codes):
        modules.append("torch._dynamo")  # the first optimizer imports it: about 2 s per section otherwise
    for module in modules:
        if module not in sys.modules:
            try:
                __import__(module)
            except ImportError:
                pass
    from . import capture

    capture.install_show()
    _cpu_name()
    _cpu_capability()


def become_subreaper() -> None:
    """Processes a section starts in a session of their own escape its process group; when their parent
    dies they are handed to this process (Linux's PR_SET_CHILD_SUBREAPER) instead of to init, and
    `_reap_orphans` ends them when the section ends."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap_orphans(sections: set[int]) -> None:
    """Kill and reap this process's children that are not sections: what finished sections left behind."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in sections:
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:  # the field after the state is the parent's pid
            try:
                os.kill(int(entry), signal.SIGKILL)
                os.waitpid(int(entry), 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a `kill -9` of the build leaves no orphans)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def seed_everything(seed: int, device: str = "cpu") -> None:
    random.seed(seed)
    if (numpy := sys.modules.get("numpy")) is not None:
        numpy.random.seed(seed)
    if (torch := sys.modules.get("torch")) is not None:
        if device == "cpu":
            # What torch.manual_seed does on a machine without accelerators, minus queueing lazy
            # CUDA/XPU seeding, which captures a stack trace: 3 ms a call.
            torch.default_generator.manual_seed(seed)
        else:
            torch.manual_seed(seed)


@functools.lru_cache(maxsize=None)  # read once in the worker, before it forks
def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


@functools.lru_cache(maxsize=None)  # read once in the worker, before it forks
def _cpu_capability() -> str:
    torch = sys.modules.get("torch")
    return torch.backends.cpu.get_cpu_capability() if torch is not None else ""


def _check_device(kind: str) -> None:
    """Fail clearly where the build asked for CUDA and this process cannot have it (touches no GPU)."""
    torch = sys.modules.get("torch")
    if kind == "cuda" and (torch is None or not torch.cuda.is_available()):
        raise RuntimeError("device 'cuda' was asked for, but torch.cuda.is_available() is False here")


def _describe_device(kind: str) -> Device:
    """The device a section ran on; called after it ran, since naming a GPU starts CUDA."""
    torch = sys.modules.get("torch")
    version = torch.__version__ if torch else "none"
    python = platform.python_version()
    isa = _cpu_capability()
    if kind == "cuda":
        return Device("cuda", torch.cuda.get_device_name(0), version, python, torch.version.cuda or "", isa=isa)
    return Device("cpu", _cpu_name(), version, python, isa=isa)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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


def _prepare_child(lecture: Lecture, job, options: WorkerOptions, store: Store) -> _ReadRecorder:
    os.setpgid(0, 0)  # its own process group: a time limit kills everything it started
    _die_with_parent()
    log = store.log_path(lecture.name, job.section)
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    import faulthandler

    faulthandler.enable(file=sys.__stderr__)  # a crash leaves a traceback with the snippet line in the log
    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)  # where it was when time ran out
    scratch = store.scratch_dir(lecture.name, job.section)
    for folder in (scratch, store.files_dir(lecture.name, job.section)):
        shutil.rmtree(folder, ignore_errors=True)  # every run starts clean: no leftovers of an earlier one
    scratch.mkdir(parents=True, exist_ok=True)
    os.chdir(scratch)
    data = options.root / "data"
    if data.is_dir() and not (scratch / "data").exists():
        (scratch / "data").symlink_to(data)  # course data files read as data/<name>
    sys.path[:0] = [str(options.root / "snippets" / lecture.name), str(options.root)]  # local modules
    if (torch := sys.modules.get("torch")) is not None:
        # A fixed count, never one derived from jobs=: float results depend on how work is split.
        torch.set_num_threads(lecture.threads)
    recorder = _ReadRecorder(options.root.resolve(), options.build.resolve())
    sys.addaudithook(recorder)
    return recorder


def _run_in_child(lecture: Lecture, job, limits: Limits, options: WorkerOptions, handoff: Path) -> None:
    store = Store(options.build)
    recorder = _prepare_child(lecture, job, options, store)
    if limits.memory:
        _limit_memory(limits.memory)
    runs: list[SnippetRun] = []
    values: dict = {}
    notes: list[str] = []
    memory: dict[str, float] = {}
    try:
        _check_device(options.device)
        failure = ""
    except Exception as exc:  # noqa: BLE001 - reported as the section's failure
        failure = str(exc)
    device = Device(options.device, "", "", platform.python_version())
    if not failure:
        from .capture import OutputBudget

        spill = store.output_log_path(lecture.name, job.section)
        budget = OutputBudget(limits.output, spill, os.path.relpath(spill, options.root))
        try:
            runs, values, failure, used_gpu = _run_section(lecture, job.section, store, options.device, budget)
        finally:
            budget.close()
        runs = [_note_memory_limit(run, limits.memory) for run in runs]
        device = _describe_device(options.device)
        memory = _cuda_peak(device)
        if device.kind == "cuda" and job.section != SETUP_ID and not used_gpu and not failure and _on_cpu(values):
            notes.append(UNUSED_GPU)
    if recorder.course_files_written() and not failure:
        failure = (f"it wrote {', '.join(recorder.course_files_written())}, in the course itself; a section may "
                   "write only in its working folder (declare files for students with :files:); check and "
                   "remove what it wrote")
    result = SectionResult(
        lecture=lecture.name, section=job.section, key=job.key, inputs=job.inputs, runs=tuple(runs),
        values=values, device=device, seconds=round(sum(r.seconds for r in runs), 6), finished=_now(),
        failure=failure, reads=recorder.digests(), memory=memory, notes=tuple(notes))
    sys.stdout.flush()
    write_atomic(handoff, json.dumps(result.to_data(), ensure_ascii=False))


def _on_cpu(values) -> bool:
    """Whether a section's values include a tensor or a model on the CPU (it did torch work there)."""
    if isinstance(values, list):
        return any(_on_cpu(v) for v in values)
    if isinstance(values, dict):
        info = values.get("__tensor__") or values.get("__module__")
        if isinstance(info, dict):
            return info.get("device") == "cpu"
        return any(_on_cpu(v) for v in values.values())
    return False


UNUSED_GPU = ("ran on CUDA but never used the GPU: its models and tensors stayed on the CPU "
              "(place them with .to(device))")


def _limit_memory(megabytes: int) -> None:
    """Cap the address space at what the worker already maps plus `megabytes`: allocations beyond fail."""
    import resource

    status = Path("/proc/self/status").read_text()
    mapped = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mapped + megabytes * 2**20, resource.RLIM_INFINITY))


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
        from .script import precision_code

        exec(precision_code(lecture.precision), {"torch": torch})
        namespace["device"] = torch.device(device)
    return namespace


def _run_section(lecture: Lecture, section_id: str, store: Store, device: str = "cpu", budget=None):
    """Run setup, replay needed sections quietly, run this section; return (runs, values, failure,
    whether its own code used the GPU)."""
    from . import capture

    figures = capture.FigureSink(store.figures_dir(lecture.name))
    quiet = capture.FigureSink(None)
    namespace = _new_namespace(lecture, device)
    seed_everything(lecture.seed, device)
    if section_id == SETUP_ID:
        return [capture.run_snippet(lecture.setup, namespace, figures, budget)], {}, "", False
    if lecture.setup is not None:
        error = capture.run_snippet(lecture.setup, namespace, quiet).error
        if error is not None:
            return [], {}, f"the lecture's setup failed at {error.location}: {error.ename}: {error.evalue}", False
    section = lecture.section(section_id)
    for needed in lecture.closure(section):
        _reseed(lecture, device)
        for snippet in needed.snippets:
            error = capture.run_snippet(snippet, namespace, quiet).error
            if error is not None and not error.expected:
                return [], {}, (f"section {needed.id!r}, which this one needs, failed when replayed, at "
                                f"{error.location}: {error.ename}: {error.evalue}"), False
    _reseed(lecture, device)
    before = {name: id(obj) for name, obj in namespace.items()}
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


# ----------------------------------------------------------------------------------------------
# The worker: forks the children, enforces time limits, records what ended a child


@dataclass
class _Running:
    lecture: Lecture
    job: object
    limits: Limits
    pid: int
    pidfd: int
    started: float
    handoff: Path


class ClientGone(Exception):
    """The build that asked for these sections has gone away (killed or interrupted)."""


def run_jobs(work: list, options: WorkerOptions, emit, client_fd: int | None = None) -> None:
    """Run every (lecture, job) of `work`, in order, `options.jobs` at a time; `emit(event)` reports progress.

    `client_fd` is the build's end of the conversation: it only becomes readable (at end of file) when
    the build has gone, and then every running section is killed and ClientGone raised."""
    store = Store(options.build)
    pending = list(work)
    running: dict[int, _Running] = {}
    watched = [client_fd] if client_fd is not None else []
    try:
        while pending or running:
            while pending and len(running) < max(1, options.jobs):
                child = _start(*pending.pop(0), options, store)
                running[child.pidfd] = child
                emit({"event": "start", "lecture": child.lecture.name, "section": child.job.section})
            now = time.monotonic()
            wait = max(0.0, min(c.started + c.limits.time for c in running.values()) - now)
            ready, _, _ = select.select(list(running) + watched, [], [], wait)
            if client_fd is not None and client_fd in ready:
                raise ClientGone()
            now = time.monotonic()
            for fd in list(running):
                child = running[fd]
                timed_out = fd not in ready and now - child.started >= child.limits.time
                if fd in ready or timed_out:
                    del running[fd]
                    emit(_finish(child, options, store, timed_out))
                    _reap_orphans({c.pid for c in running.values()})
    finally:
        for child in running.values():  # interrupted: take every section's processes down with us
            _kill_group(child.pid)
            os.waitpid(child.pid, 0)


def _start(lecture: Lecture, job, options: WorkerOptions, store: Store) -> _Running:
    limits = job.limits.over(options.limits)
    handoff = store.results_dir(lecture.name) / f".{job.section}.handoff.json"
    handoff.unlink(missing_ok=True)
    handoff.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            _run_in_child(lecture, job, limits, options, handoff)
        except BaseException:  # noqa: BLE001 - our own bug: leave its traceback in the section's log
            traceback.print_exc()
            code = INTERNAL_FAILURE
        finally:
            os._exit(code)
    return _Running(lecture=lecture, job=job, limits=limits, pid=pid, pidfd=os.pidfd_open(pid),
                    started=time.monotonic(), handoff=handoff)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _finish(child: _Running, options: WorkerOptions, store: Store, timed_out: bool) -> dict:
    lecture = child.lecture
    if timed_out:
        _dump_stack(child.pid, store.log_path(lecture.name, child.job.section))
        _kill_group(child.pid)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - child.started
    os.close(child.pidfd)
    _kill_group(child.pid)  # anything the section started and left running
    result = read_result(child.handoff) if not timed_out else None
    child.handoff.unlink(missing_ok=True)
    job = child.job
    rss = {"rss": round(usage.ru_maxrss / 1024, 1)}  # kilobytes on Linux
    if result is None or result.key != job.key:
        log = store.log_path(lecture.name, job.section)
        failure = _ended_by(status, timed_out, child.limits, log, options.root, store.build)
        result = SectionResult(
            lecture=lecture.name, section=job.section, key=job.key, inputs=job.inputs, runs=(), values={},
            device=Device(options.device, "", "", platform.python_version()),
            seconds=round(wall, 3), finished=_now(), failure=failure)
    result = replace(result, memory={**rss, **result.memory}, wall=round(wall, 6))
    event = {"event": "done", "lecture": lecture.name, "section": job.section, "ok": result.ok,
             "seconds": result.seconds, "wall": round(wall, 6), "device": result.device.kind,
             "notes": list(result.notes)}
    try:
        event["digest"] = store.write(result)
    except OSError as exc:  # the build reports it: without a stored result the section runs again next time
        event.update(ok=False, error=f"its result could not be stored: {os_problem(exc)}")
    return event


def _dump_stack(pid: int, log: Path, wait: float = 1.0) -> None:
    """Ask a section that ran out of time where it is (faulthandler writes its stack to its log)."""
    size = log.stat().st_size if log.exists() else 0
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if log.exists() and log.stat().st_size > size and "most recent call first" in log.read_text(errors="replace"):
            time.sleep(0.05)  # let it finish the dump
            return


INTERNAL_FAILURE = 70  # the exit status of a child in which lecturebuild's own code failed (EX_SOFTWARE)


def _ended_by(status: int, timed_out: bool, limits: Limits, log: Path, root: Path, build: Path) -> str:
    """Why a child left no result: the limit, signal or exit status, the snippet line if the log has it, and
    what the section printed last (the log keeps all of it)."""
    shown = os.path.relpath(log, root)
    if not timed_out and os.WIFEXITED(status) and os.WEXITSTATUS(status) == INTERNAL_FAILURE:
        return _internal_failure(log, shown, build)
    if timed_out:
        reason = f"it ran past the time limit of {limits.time:g} s and was stopped, with every process it started"
    elif os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        reason = f"its process was killed by {signal.Signals(number).name} ({signal.strsignal(number)})"
        if number == signal.SIGKILL:
            reason += "; the system may have run out of memory"
    else:
        reason = (f"its process exited with status {os.WEXITSTATUS(status)} before the section finished "
                  "(os._exit() or a crash in native code)")
    text = _read_log(log)
    where = _last_snippet_frame(text)
    printed = _last_output(text)
    return (f"{reason}{f', at {where}' if where else ''} (full output in {shown})"
            + (f"; the last lines it printed:\n{printed}" if printed else ""))


def _internal_failure(log: Path, shown: str, build: Path) -> str:
    """lecturebuild's code in the section's process failed: most often, the result could not be written."""
    lines = [line for line in _read_log(log).splitlines() if line.strip()]
    last = next((line for line in reversed(lines) if re.match(r"^[\w.]+(Error|Exception)\b", line)), "")
    if "[Errno 28]" in last or (not last and shutil.disk_usage(build).free < 2**20):
        return "lecturebuild could not record the section's run: the disk is full: free some space and run doit again"
    return (f"lecturebuild could not record the section's run (a bug in lecturebuild, not in your code): "
            f"{last or 'no traceback'} (traceback in {shown})")


def _read_log(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _last_snippet_frame(text: str) -> str:
    """The innermost snippet line of the last stack dump or traceback in the log."""
    dump = text.rsplit("most recent call first", 1)
    if len(dump) == 2:  # faulthandler: innermost frame first
        frames = re.findall(r'File "(snippets/[^"]+)", line (\d+)', dump[1])
        return f"{frames[0][0]}:{frames[0][1]}" if frames else ""
    frames = re.findall(r'File "(snippets/[^"]+)", line (\d+)', text)  # a traceback: innermost frame last
    return f"{frames[-1][0]}:{frames[-1][1]}" if frames else ""


def _last_output(text: str, lines: int = 5) -> str:
    """The last lines the section printed before it ended, without the stack dump after them."""
    before = re.split(r"^(?:Fatal Python error|Current thread 0x|Thread 0x)", text, maxsplit=1, flags=re.MULTILINE)[0]
    kept = [line for line in before.splitlines() if line.strip()][-lines:]
    return "\n".join(f"    {line}" for line in kept)


def serve(requests, events, client_fd: int) -> None:
    """Answer requests until the build closes its end; a request is a list of (lecture, job) to run."""

    def emit(event: dict) -> None:
        events.write(json.dumps(event) + "\n")
        events.flush()

    while True:
        try:
            work, options = pickle.load(requests)
        except (EOFError, ConnectionError):
            return
        for lecture in {id(lecture): lecture for lecture, _ in work}.values():
            _warm_up(lecture)
        run_jobs(work, options, emit, client_fd)
        emit({"event": "end"})


def main(argv: list[str]) -> int:
    """`worker`: serve one build over stdin/stdout; `worker --serve SOCKET IDLE`: see daemon.py."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if argv[:1] == ["--serve"]:
        from .daemon import serve_socket

        serve_socket(Path(argv[1]), float(argv[2]))
        return 0
    events = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed in this process goes to stderr, not into the event stream
    _die_with_parent()
    become_subreaper()
    try:
        serve(sys.stdin.buffer, events, sys.stdin.fileno())
    except ClientGone:
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
