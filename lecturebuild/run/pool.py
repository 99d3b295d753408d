"""Section processes: spares forked ahead of need, and processes that go on from what they ran.

The worker never runs snippet code and never starts CUDA (a process that has cannot fork a usable
child). It forks section processes, each of which is, in turn:

    spare     torch imported and, on a CUDA build, the CUDA context, cuBLAS and cuDNN loaded (about
              0.5 s that no section should wait for); it waits for a section
    running   told by a Run message which section to run; it answers Done once the result is written
    idle      it ran its sections cleanly and waits: a later section that needs them goes on from here

A section that can go on from an idle process (section.py says when) takes, where the process can
be forked safely, a fork of it, and the idle one stays for the next; otherwise the process itself.
A fork is the idle process's child: that process reaps it and tells the worker how it ended (the
worker reads exit statuses only of its own children), and stays until its forks have ended (they
die with their parent, as every section process dies with the worker).

What they say to each other is in channel.py.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import random
import select
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from lecturebuild.run.channel import Begun, Channel, Done, Fork, Forkable, Forked, ForkEnded, Ready, Run
from lecturebuild.run.processes import die_with_parent
from lecturebuild.run.section import SectionProcess

INTERNAL_FAILURE = 70  # the exit status of a section process whose lecturebuild code failed (EX_SOFTWARE)


@dataclass(eq=False)
class Process:
    """The worker's handle on a section process."""

    pid: int
    pidfd: int
    channel: Channel
    device: str
    parent: "Process | None" = None  # the idle process it was forked from; None: the worker's own child
    lecture: str | None = None  # the lecture it ran sections of; None for a spare
    history: tuple[str, ...] = ()  # the sections it ran, in order
    forkable: bool | None = False  # None: it has not said yet, after its last section
    used: float = field(default_factory=time.monotonic)
    forks: set = field(default_factory=set)  # its forks that have not ended
    ended: dict = field(default_factory=dict)  # how its forks ended, by pid, as it reported
    retired: bool = False  # released, but its forks still run: it ends after them
    closed: bool = False
    ready: bool = False  # a spare that has finished getting ready
    begun: float = 0.0  # when the section it runs started its own code, after what it replayed

    def receive(self) -> Done | Forked | None:
        """Read one message; what it says about itself (Done, Forked) is returned, what it says about its
        forks or readiness is noted here. EOFError once it has closed its end."""
        message = self.channel.recv()
        match message:
            case Ready():
                self.ready = True
            case Begun():
                self.begun = time.monotonic()
            case Forkable(forkable):
                self.forkable = forkable
            case ForkEnded(pid, status):
                self.ended[pid] = status
            case _:
                return message
        return None

    def listen(self) -> None:
        """Note what an idle process or a spare reported (call when its channel is readable)."""
        try:
            self.receive()
        except (EOFError, OSError):
            pass

    def status_of(self, fork: "Process") -> int:
        """The wait status of one of its forks that has ended."""
        while fork.pid not in self.ended:
            self.receive()
        return self.ended.pop(fork.pid)


def ended(process: Process) -> int:
    """Reap a section process that has ended (or been killed); its wait status."""
    if process.parent is None:
        _, status = os.waitpid(process.pid, 0)
    else:
        try:
            status = process.parent.status_of(process)
        except (EOFError, OSError):
            status = signal.SIGKILL  # its parent died first, and it with it
    return status


class Pool:
    """The worker's section processes that are not running a section: spares and idle ones."""

    IDLE_LIMIT = 8  # idle processes kept at most (each holds its sections' memory; on a GPU a CUDA context)

    def __init__(self):
        self.spares: list[Process] = []
        self.idle: list[Process] = []
        self.retired: list[Process] = []
        self.spares_wanted = self.spares_limit = 0
        self.device, self.root, self.build = "", Path(), Path()

    def prepare(self, device: str, root: Path, build: Path, spares: int, limit: int) -> None:
        """Keep `spares` spares for sections on `device` of the course in `root`, and up to `limit` where
        sections find none ready (short sections on a GPU: a spare takes longer to get ready than they run)."""
        if (device, root, build) != (self.device, self.root, self.build):
            self.drop_spares()
        self.device, self.root, self.build = device, root, build
        self.spares_limit = max(limit, spares)
        self.spares_wanted = min(max(self.spares_wanted, spares), self.spares_limit)
        self.refill()

    def refill(self) -> None:
        while len(self.spares) < self.spares_wanted:
            self.spares.append(_spawn(self.device, self.root, self.build))

    def take(self, process: Process | None) -> Process:
        """The process a section runs in: a fork of an idle process, the idle process itself, or a spare
        (call refill() once the section has started)."""
        if process is not None:
            try:
                while process.forkable is None:  # it says so just after its section ends
                    process.receive()
                if process.forkable:
                    process.used = time.monotonic()
                    return _fork(process)
                self.idle.remove(process)
                return process
            except (OSError, EOFError):  # it died while idle: start from a spare instead
                self.release(process)
        for fd in select.select([p.channel for p in self.spares if not p.ready], [], [], 0)[0]:
            next(p for p in self.spares if p.channel is fd).listen()
        spare = next((p for p in self.spares if p.ready), None)
        if spare is None:  # it will wait for one to get ready: keep more ready from now on
            self.spares_wanted = min(self.spares_wanted + 1, self.spares_limit)
            spare = self.spares[0] if self.spares else _spawn(self.device, self.root, self.build)
        if spare in self.spares:
            self.spares.remove(spare)
        return spare

    def keep(self, process: Process, lecture: str, history: tuple[str, ...]) -> None:
        process.lecture, process.history, process.used = lecture, history, time.monotonic()
        self.idle.append(process)
        while len(self.idle) > self.IDLE_LIMIT:
            self.release(min(self.idle, key=lambda p: p.used))

    def release(self, process: Process) -> None:
        """End an idle process, or once its forks have ended."""
        if process in self.idle:
            self.idle.remove(process)
        if process.forks:
            process.retired = True
            self.retired.append(process)
        else:
            self.close(process)

    def close(self, process: Process) -> None:
        """End a section process now (with its forks) and reap it; its parent goes too if it only waited for it."""
        if process.closed:
            return
        process.closed = True
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if process.parent is None:
            try:
                os.waitpid(process.pid, 0)
            except ChildProcessError:
                pass
        process.channel.close()
        os.close(process.pidfd)
        self.forget(process)

    def forget(self, process: Process) -> None:
        """`process` has ended: its parent no longer waits for it."""
        parent = process.parent
        if parent is not None:
            parent.forks.discard(process)
            if parent.retired and not parent.forks and not parent.closed:
                self.retired.remove(parent)
                self.close(parent)

    def release_idle(self) -> None:
        for process in list(self.idle):
            self.release(process)
        for process in list(self.retired):  # the request is over: nothing runs in their forks
            process.forks.clear()
            self.retired.remove(process)
            self.close(process)

    def drop_spares(self) -> None:
        for process in self.spares:
            self.close(process)
        self.spares = []

    def listening(self) -> dict[int, Process]:
        """Spares, idle and retired processes by channel: readiness and forks' ends are reported there."""
        return {p.channel.fileno(): p for p in self.spares + self.idle + self.retired}

    def pids(self) -> set[int]:
        """The worker's own children among these."""
        return {p.pid for p in self.spares + self.idle + self.retired if p.parent is None}


# ----------------------------------------------------------------------------------------------
# Starting section processes


def _spawn(device: str, root: Path, build: Path) -> Process:
    """Fork a spare from the worker."""
    ours, theirs = socket.socketpair()
    sys.stdout.flush()
    sys.stderr.flush()
    worker = os.getpid()
    pid = os.fork()
    if pid == 0:
        ours.close()
        _live(Channel(theirs), device, root, build, worker)
    theirs.close()
    return Process(pid=pid, pidfd=os.pidfd_open(pid), channel=Channel(ours), device=device)


def _fork(process: Process) -> Process:
    """A fork of an idle process, holding all it holds."""
    ours, theirs = socket.socketpair()
    process.channel.send(Fork())
    process.channel.send_fd(theirs.fileno())
    theirs.close()
    while (answer := process.receive()) is None:  # its answer comes after any reports about earlier forks
        pass
    pid = answer.pid
    fork = Process(pid=pid, pidfd=os.pidfd_open(pid), channel=Channel(ours), device=process.device, parent=process,
                   lecture=process.lecture, history=process.history)
    process.forks.add(fork)
    return fork


def _live(channel: Channel, device: str, root: Path, build: Path, parent: int) -> None:
    """A section process's life: get ready, then run what the worker sends until it closes the channel."""
    code = 0
    try:
        _begin(parent)
        if device == "cuda":
            warm_cuda()
        channel.send(Ready())
        state = SectionProcess(root, build)
        forked = False  # a fork that has not run a section yet
        forks: dict[int, int] = {}  # pidfd -> pid of its own forks, which it reaps
        while True:
            ready, _, _ = select.select([channel] + list(forks), [], [])
            for fd in ready:
                if fd in forks:
                    pid = forks.pop(fd)
                    os.close(fd)
                    channel.send(ForkEnded(pid, os.waitpid(pid, 0)[1]))
            if channel not in ready:
                continue
            message = channel.recv()
            if isinstance(message, Run):
                clean = state.run(message.lecture, message.job, message.limits, device, Path(message.handoff),
                                  set(forks.values()), forked, lambda: channel.send(Begun()))
                forked = False
                channel.send(Done(clean))  # the section's end, first: the worker stores its result at once
                channel.send(Forkable(clean and state.forkable()))
            elif isinstance(message, Fork):
                fd = channel.recv_fd()
                me = os.getpid()
                stream = random.getstate()  # Python reseeds `random` in a forked child; a replay would not
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:  # the fork: a conversation of its own with the worker
                    random.setstate(stream)
                    forked = True
                    for other in forks:
                        os.close(other)
                    forks = {}
                    channel.close()
                    channel = Channel(socket.socket(fileno=fd))
                    _begin(me)
                else:
                    os.close(fd)
                    forks[os.pidfd_open(pid)] = pid
                    channel.send(Forked(pid))
    except (EOFError, ConnectionError):
        pass  # the worker closed the conversation, or is gone
    except BaseException:  # noqa: BLE001 - lecturebuild's own bug: its traceback goes to the section's log
        traceback.print_exc()
        code = INTERNAL_FAILURE
    finally:
        with contextlib.suppress(OSError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _begin(parent: int) -> None:
    """What every section process does first: a process group of its own (a time limit kills everything
    it started), death with its parent, and a stack dump on a crash or when its time runs out."""
    os.setpgid(0, 0)
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the request to die with it took effect
        os._exit(1)
    faulthandler.enable(file=sys.__stderr__)  # a crash leaves a traceback with the snippet line in the log
    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)


def warm_cuda() -> None:
    """Start CUDA and load cuBLAS and cuDNN in a spare, so that no section waits for them; what it
    allocated is freed and the peak-memory count reset, so a section's numbers are its own."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return
    x = torch.ones(8, 8, device="cuda")
    (x @ x).sum().item()
    rnn = torch.nn.LSTM(4, 4).to("cuda")
    rnn(torch.zeros(2, 1, 4, device="cuda"))
    torch.nn.functional.conv2d(torch.zeros(1, 1, 4, 4, device="cuda"), torch.zeros(1, 1, 3, 3, device="cuda"))
    torch.cuda.synchronize()
    del x, rnn
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
