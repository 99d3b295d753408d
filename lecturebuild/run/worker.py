"""The worker: a separate, long-lived interpreter that runs sections for the build.

    python -m lecturebuild.run.worker     reads pickled ([(Lecture, Job)], WorkerOptions) requests on stdin

It imports torch, numpy and matplotlib once and never runs a torch operation or starts CUDA itself.
Sections run in section processes forked from it (pool.py: spares made ready ahead of need, and
processes that go on from the sections they ran); section.py is what runs inside them; schedule.py
decides which section runs next and in which process. Whatever a section allocates dies with its
process, so memory cannot grow from one section to the next. One worker serves every lecture a build
process executes.

A section process that crashes, exits early or runs past its time limit leaves no valid hand-off
file; the worker then records a failure saying what ended it. Progress goes to the build as JSON
lines on stdout, ending each request with {"event": "end"}.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import re
import select
import shutil
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from lecturebuild.errors import os_problem
from lecturebuild.model import BUILD_LIMITS, Device, Lecture, Limits, SectionDone, SectionResult, now
from lecturebuild.run import schedule
from lecturebuild.run.channel import Run
from lecturebuild.run.device import cpu_capability, cpu_name
from lecturebuild.run.pool import INTERNAL_FAILURE, Pool, Process, ended
from lecturebuild.run.processes import become_subreaper, die_with_parent, kill_children, kill_group
from lecturebuild.store import Store, read_result


@dataclass(frozen=True)
class WorkerOptions:
    device: str  # resolved: "cpu" or "cuda"
    build: Path
    root: Path  # the course folder: files opened below it are recorded as the section's reads
    jobs: int = 1  # sections run at once
    limits: Limits = BUILD_LIMITS  # for sections and lectures that set none of their own
    reuse: bool = True  # sections go on from processes that ran what they need (False: each replays it)


def _warm_up(lecture: Lecture) -> bool:
    """Import what snippets import, once, before forking; whether anything was imported."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # torch.cuda.is_available() without a CUDA context
    modules = ["numpy", "numpy.random", "torch", "matplotlib.pyplot"]  # numpy.random loads lazily: 20 ms a section
    codes = [s.code for section in lecture.sections for s in section.snippets]
    if any("optim" in code for code in codes):
        modules.append("torch._dynamo")  # the first optimizer imports it: about 2 s per section otherwise
    imported = False
    for module in modules:
        if module not in sys.modules:
            try:
                __import__(module)
                imported = True
            except ImportError:
                pass
    from lecturebuild.run import capture

    capture.install_show()
    cpu_name()
    cpu_capability()
    return imported


# ----------------------------------------------------------------------------------------------
# Running a request: sections in section processes, `jobs` at a time


@dataclass
class _Running:
    item: schedule.Item
    limits: Limits
    process: Process
    started: float
    handoff: Path
    channel_open: bool = True

    @property
    def deadline(self) -> float:
        """The time limit counts what the section replays, then starts again for its own code (as its
        replayed sections had their own limits when they ran)."""
        return max(self.started, self.process.begun) + self.limits.time

    @property
    def lecture(self) -> Lecture:
        return self.item.lecture

    @property
    def job(self):
        return self.item.job


class ClientGone(Exception):
    """The build that asked for these sections has gone away (killed or interrupted)."""


def forks(options: WorkerOptions):
    """Whether a lecture's section processes can be forked on this build: never on CUDA (see section.py)."""
    return lambda lecture: options.reuse and options.device == "cpu" and lecture.threads == 1


def spares_on_cuda() -> int:
    """How many spares a CUDA build may keep ready at most ($LECTUREBUILD_SPARES, default 4): each holds a
    CUDA context (a few hundred MB of GPU memory), and more are kept only while sections find none ready."""
    return max(1, int(os.environ.get("LECTUREBUILD_SPARES", "4")))


def run_jobs(work: list, options: WorkerOptions, emit, client_fd: int | None = None, pool: Pool | None = None) -> None:
    """Run every (lecture, job) of `work`, `options.jobs` at a time, in the order schedule.py gives;
    `emit(done)` reports each section as it ends. `pool` keeps spares between requests (the daemon's).

    `client_fd` is the build's end of the conversation: it only becomes readable (at end of file) when
    the build has gone, and then every running section is killed and ClientGone raised."""
    become_subreaper()
    store = Store(options.build)
    pool = pool or Pool()
    lanes = max(1, options.jobs)
    pool.prepare(options.device, options.root, options.build, min(lanes, len(work)),
                 lanes if options.device == "cpu" else max(lanes, spares_on_cuda()))
    plan = schedule.Plan(work, forks(options))
    running: dict[int, _Running] = {}  # by pidfd
    watched = [client_fd] if client_fd is not None else []
    try:
        while plan.pending or running:
            while len(running) < lanes and (choice := plan.next(pool.idle)) is not None:
                child = _start(*choice, options, store, pool)
                running[child.process.pidfd] = child
            if not running:  # schedule.py never leaves every section waiting on one that is not running
                raise RuntimeError(f"no section can start: {[i.job.section for i in plan.pending]}")
            channels = {c.process.channel.fileno(): c for c in running.values() if c.channel_open}
            listening = pool.listening()
            wait = max(0.0, min(c.deadline for c in running.values()) - time.monotonic())
            ready, _, _ = select.select(list(running) + list(channels) + list(listening) + watched, [], [], wait)
            if client_fd is not None and client_fd in ready:
                raise ClientGone()
            now, finished = time.monotonic(), False
            for fd in ready:
                if fd in listening:
                    listening[fd].listen()
                elif fd in channels:
                    child = channels[fd]
                    try:
                        message = child.process.receive()
                    except (EOFError, OSError):
                        child.channel_open = False  # it is ending: its pidfd says when
                        continue
                    if message is None:
                        continue
                    clean = message.clean
                    child.process.forkable = None  # it says next
                    del running[child.process.pidfd]
                    finished = True
                    emit(_finish(child, options, store, exited=None))
                    plan.finished(child.item)
                    if clean and options.reuse:
                        pool.keep(child.process, child.lecture.name, child.item.state)
                    else:
                        pool.close(child.process)
            for fd in list(running):
                child = running[fd]
                timed_out = fd not in ready and now >= child.deadline
                if fd in ready or timed_out:
                    del running[fd]
                    finished = True
                    emit(_finish(child, options, store, exited=_end(child, store, timed_out, pool)))
                    plan.finished(child.item)
            if finished:
                for process in list(pool.idle):
                    if not plan.wanted(process):
                        pool.release(process)
                # What finished sections left running and escaped their process group (handed to the worker).
                kill_children(os.getpid(), keep={c.process.pid for c in running.values()} | pool.pids())
    finally:
        for child in running.values():  # interrupted: take every section's processes down with us
            kill_group(child.process.pid)
            pool.close(child.process)
        pool.release_idle()


def _start(item: schedule.Item, idle: Process | None, options: WorkerOptions, store: Store, pool: Pool) -> _Running:
    limits = item.job.limits.over(options.limits)
    handoff = store.results_dir(item.lecture.name) / f".{item.job.section}.handoff.json"
    handoff.unlink(missing_ok=True)
    handoff.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    message = Run(item.lecture, item.job, limits, str(handoff))
    process = pool.take(idle)
    process.begun = 0.0
    try:
        process.channel.send(message)
    except OSError:  # an idle process that died while it waited
        pool.close(process)
        process = pool.take(None)
        process.channel.send(message)
    pool.refill()  # a spare for a later section, forked while this one runs
    return _Running(item=item, limits=limits, process=process, started=started, handoff=handoff)


def _end(child: _Running, store: Store, timed_out: bool, pool: Pool) -> tuple[int, bool]:
    """Stop a section process that ran out of time or ended; (its wait status, whether it timed out)."""
    process = child.process
    if timed_out:
        _dump_stack(process.pid, store.log_path(child.lecture.name, child.job.section))
        kill_group(process.pid)
    status = ended(process)
    kill_group(process.pid)  # anything the section started and left running
    process.closed = True
    process.channel.close()
    os.close(process.pidfd)
    pool.forget(process)
    return status, timed_out


def _finish(child: _Running, options: WorkerOptions, store: Store, exited: tuple[int, bool] | None) -> SectionDone:
    """The section's result, stored; `exited`: its process ended (wait status, timed out) without saying done."""
    lecture, job = child.lecture, child.job
    wall = time.monotonic() - child.started
    result = read_result(child.handoff) if exited is None else None
    child.handoff.unlink(missing_ok=True)
    if result is None or result.key != job.key:
        log = store.log_path(lecture.name, job.section)
        status, timed_out = exited if exited is not None else (0, False)
        failure = _ended_by(status, timed_out, child.limits, log, options.root, store.build)
        result = SectionResult(
            lecture=lecture.name, section=job.section, key=job.key, inputs=job.inputs, runs=(), values={},
            device=Device(options.device, "", "", platform.python_version()),
            seconds=round(wall, 3), finished=now(), failure=failure)
    result = replace(result, wall=round(wall, 6))
    try:
        return SectionDone.of(result, digest=store.write(result))
    except OSError as exc:  # the build reports it: without a stored result the section runs again next time
        return SectionDone.of(result, error=f"its result could not be stored: {os_problem(exc)}")


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


def serve(requests, events, client_fd: int, pool: Pool | None = None) -> None:
    """Answer requests until the build closes its end; a request is a list of (lecture, job) to run."""

    def emit(done: SectionDone) -> None:
        write({"event": "done", **done.to_data()})

    def write(event: dict) -> None:
        events.write(json.dumps(event) + "\n")
        events.flush()

    while True:
        try:
            work, options = pickle.load(requests)
        except (EOFError, ConnectionError):
            return
        imported = False
        for lecture in {id(lecture): lecture for lecture, _ in work}.values():
            imported = _warm_up(lecture) or imported
        pool = pool or Pool()
        if imported:
            pool.drop_spares()  # forked before those imports: a section would pay for them
        run_jobs(work, options, emit, client_fd, pool)
        write({"event": "end"})


def main() -> int:
    """Serve one build over stdin/stdout (daemon.py serves builds one after another over a socket)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    events = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed in this process goes to stderr, not into the event stream
    die_with_parent()
    become_subreaper()
    try:
        serve(sys.stdin.buffer, events, sys.stdin.fileno())
    except ClientGone:
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
