"""The conversation between the worker and a section process: small records, pickled over a Unix socket
pair, each preceded by its length (and, for a fork, the socket of the fork's own conversation)."""

from __future__ import annotations

import pickle
import socket
from dataclasses import dataclass

from lecturebuild.model import Lecture, Limits
from lecturebuild.run.plan import Job


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


# What the worker tells a section process ...
@dataclass(frozen=True)
class Run:
    """Run this section (its own limits over the build's), and write its result to `handoff`."""

    lecture: Lecture
    job: Job
    limits: Limits
    handoff: str


@dataclass(frozen=True)
class Fork:
    """Fork yourself; the fork's end of a new socket pair follows as a file descriptor."""


# ... and what a section process tells the worker.
@dataclass(frozen=True)
class Ready:
    """A spare has finished getting ready."""


@dataclass(frozen=True)
class Begun:
    """The section has replayed what it needs and starts its own code: its time limit starts again."""


@dataclass(frozen=True)
class Done:
    """The section's result is in its hand-off file; `clean`: nothing it started is left running."""

    clean: bool


@dataclass(frozen=True)
class Forkable:
    """Whether the process may be forked for a later section that goes on from it."""

    forkable: bool


@dataclass(frozen=True)
class Forked:
    """The fork asked for runs, as process `pid`."""

    pid: int


@dataclass(frozen=True)
class ForkEnded:
    """One of its forks has ended, with this wait status (only its parent can reap it)."""

    pid: int
    status: int
