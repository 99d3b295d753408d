"""Section processes: spares forked ahead of need, and processes that go on from what they ran.

The worker never runs snippet code and never starts CUDA (a process that has cannot fork a usable
child). It forks section processes, each of which is, in turn:

    spare     torch imported and, on a CUDA build, the CUDA context, cuBLAS and cuDNN loaded (about
              0.5 s that no section should wait for); it waits for a section
    running   told by a "run" message which section to run; it answers "done" once the result is written
    idle      it ran its sections cleanly and waits: a later section that needs them goes on from here

A section that can go on from an idle process (section.py says when) takes, where the process can
be forked safely, a fork of it, and the idle one stays for the next; otherwise the process itself.
Forks are handed to the worker (a double fork; the worker is a child subreaper), so every section
process is the worker's own child: it reaps them, reads their exit status and kills them on time.

Messages are pickles over a Unix socket pair, each preceded by its length.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .section import SectionProcess

INTERNAL_FAILURE = 70  # the exit status of a section process whose lecturebuild code failed (EX_SOFTWARE)


class Channel:
    """One end of a conversation between the worker and a section process."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message) -> None:
        data = pickle.dumps(message)
        self.sock.sendall(len(data).to_bytes(8, "little") + data)

    def recv(self):
        """The next message; EOFError once the other end has closed."""
        return pickle.loads(self._exactly(int.from_bytes(self._exactly(8), "little")))

    def send_fd(self, fd: int) -> None:
        socket.send_fds(self.sock, [b"F"], [fd])

    def recv_fd(self) -> int:
        _, fds, _, _ = socket.recv_fds(self.sock, 1, 1)
        if not fds:
            raise EOFError()
        return fds[0]

    def _exactly(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = self.sock.recv(left)
            if not chunk:
                raise EOFError()
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


@dataclass(eq=False)
class Process:
    """The worker's handle on a section process."""

    pid: int
    pidfd: int
    channel: Channel
    device: str
    lecture: str | None = None  # the lecture it ran sections of; None for a spare
    history: tuple[str, ...] = ()  # the sections it ran, in order
    forkable: bool = False
    used: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        """Let it exit (it reads end of file), and reap it."""
        self.channel.close()
        try:
            os.kill(self.pid, signal.SIGKILL)  # an idle process holds nothing worth a graceful end
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.pidfd)


class Pool:
    """The worker's section processes that are not running a section: spares and idle ones."""

    IDLE_LIMIT = 8  # idle processes kept at most (each holds its sections' memory; on a GPU a CUDA context)

    def __init__(self):
        self.spares: list[Process] = []
        self.idle: list[Process] = []
        self.spares_wanted = 0
        self.device, self.root, self.build = "", Path(), Path()

    def prepare(self, device: str, root: Path, build: Path, spares: int) -> None:
        """Keep `spares` spares for sections on `device` of the course in `root`."""
        if (device, root, build) != (self.device, self.root, self.build):
            self.drop_spares()
        self.device, self.root, self.build, self.spares_wanted = device, root, build, spares
        self.refill()

    def refill(self) -> None:
        while len(self.spares) < self.spares_wanted:
            self.spares.append(_spawn(self.device, self.root, self.build))

    def take(self, process: Process | None) -> Process:
        """The process a section runs in: a spare, a fork of an idle process, or the idle process itself."""
        if process is not None:
            try:
                if process.forkable:
                    process.used = time.monotonic()
                    return _fork(process)
                self.idle.remove(process)
                return process
            except (OSError, EOFError):  # it died while idle: start from a spare instead
                self.release(process)
        spare = self.spares.pop(0) if self.spares else _spawn(self.device, self.root, self.build)
        self.refill()
        return spare

    def keep(self, process: Process, lecture: str, history: tuple[str, ...], forkable: bool) -> None:
        process.lecture, process.history, process.forkable, process.used = lecture, history, forkable, time.monotonic()
        self.idle.append(process)
        while len(self.idle) > self.IDLE_LIMIT:
            self.release(min(self.idle, key=lambda p: p.used))

    def release(self, process: Process) -> None:
        if process in self.idle:
            self.idle.remove(process)
        process.close()

    def release_idle(self) -> None:
        for process in list(self.idle):
            self.release(process)

    def drop_spares(self) -> None:
        for process in self.spares:
            process.close()
        self.spares = []

    def pids(self) -> set[int]:
        return {p.pid for p in self.spares + self.idle}


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
    """A fork of an idle process, holding all it holds; it becomes the worker's child."""
    ours, theirs = socket.socketpair()
    process.channel.send(("fork", os.getpid()))
    process.channel.send_fd(theirs.fileno())
    theirs.close()
    channel = Channel(ours)
    _, pid = channel.recv()  # the fork says who it is once the worker is its parent
    return Process(pid=pid, pidfd=os.pidfd_open(pid), channel=channel, device=process.device,
                   lecture=process.lecture, history=process.history)


def _live(channel: Channel, device: str, root: Path, build: Path, worker: int) -> None:
    """A section process's life: get ready, then run what the worker sends until it closes the channel."""
    code = 0
    try:
        _begin(worker)
        if device == "cuda":
            warm_cuda()
        state = SectionProcess(root, build)
        while True:
            try:
                message = channel.recv()
            except EOFError:
                break
            if message[0] == "run":
                _, lecture, job, limits, handoff = message
                clean = state.run(lecture, job, limits, device, Path(handoff))
                channel.send(("done", clean, clean and state.forkable()))
            elif message[0] == "fork":
                fd = channel.recv_fd()
                if _fork_away(message[1]):
                    channel.close()
                    channel = Channel(socket.socket(fileno=fd))
                    channel.send(("pid", os.getpid()))
                else:
                    os.close(fd)
    except BaseException:  # noqa: BLE001 - lecturebuild's own bug: its traceback goes to the section's log
        traceback.print_exc()
        code = INTERNAL_FAILURE
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _begin(parent: int) -> None:
    """What every section process does first: a process group of its own (a time limit kills everything
    it started), death with the worker, and a stack dump on a crash or when its time runs out."""
    os.setpgid(0, 0)
    die_with_parent()
    if os.getppid() != parent:  # the worker died before the request to die with it took effect
        os._exit(1)
    faulthandler.enable(file=sys.__stderr__)  # a crash leaves a traceback with the snippet line in the log
    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)


def _fork_away(worker: int) -> bool:
    """Fork a copy of this process that the worker adopts; True in the copy. The copy's first parent exits
    at once, so Linux hands the copy to the nearest child subreaper: the worker."""
    sys.stdout.flush()
    sys.stderr.flush()
    middle = os.fork()
    if middle == 0:
        if os.fork() != 0:
            os._exit(0)
        deadline = time.monotonic() + 10
        while os.getppid() != worker:  # adopted once the middle process has exited
            if time.monotonic() > deadline:
                os._exit(1)
            time.sleep(0.0002)
        _begin(worker)
        return True
    os.waitpid(middle, 0)
    return False


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a `kill -9` of the build leaves no orphans)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def become_subreaper() -> None:
    """Processes that lose their parent are handed to this process (Linux's PR_SET_CHILD_SUBREAPER) instead
    of to init: forks of idle section processes become its children, and what finished sections left
    running is found and ended."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


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
