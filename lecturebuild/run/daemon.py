"""Keep the worker warm between builds: a worker daemon per build folder, reached over a Unix socket.

Importing torch costs a second or two; a rebuild after a one-line edit should not pay it. The first
build that needs a worker starts `python -m lecturebuild.run.daemon SOCKET IDLE` in the
background; later builds connect to it. It serves one build at a time, exits after IDLE seconds
without one (LECTUREBUILD_WORKER_IDLE, default 600; 0 means no daemon: each build process starts
its own worker and it ends with the build), and exits at once when a build presents a different
identity (other lecturebuild code, another interpreter or torch), so it never runs stale code.

If a build dies, the daemon sees its connection close and kills the sections it was running.
The socket lives in a folder only this user can enter, since whoever connects can run code.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lecturebuild.errors import LectureBuildError
from lecturebuild.model import HASH_SEED
from lecturebuild.version import CHECKOUT, code_digest

DEFAULT_IDLE = 600.0


def idle_seconds() -> float:
    return float(os.environ.get("LECTUREBUILD_WORKER_IDLE", DEFAULT_IDLE))


def identity() -> str:
    """What a daemon must share with a build to serve it: this package's code, the interpreter, torch."""
    from lecturebuild.run.device import torch_version

    return hashlib.sha256(f"{sys.executable}\0{torch_version()}\0{code_digest()}".encode()).hexdigest()[:32]


def socket_path(build: Path) -> Path:
    """A short path (Unix sockets allow about 100 bytes) in a private folder, one per build folder."""
    folder = Path(tempfile.gettempdir()) / f"lecturebuild-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise LectureBuildError(f"{folder} must belong to this user and be private (mode 700)")
    return folder / (hashlib.sha256(str(Path(build).resolve()).encode()).hexdigest()[:20] + ".sock")


# ----------------------------------------------------------------------------------------------
# The daemon


def serve_socket(path: Path, idle: float) -> None:
    from lecturebuild.run.pool import Pool
    from lecturebuild.run.processes import become_subreaper
    from lecturebuild.run.worker import ClientGone, serve

    become_subreaper()
    pool = Pool()  # spares stay ready between builds
    me = identity()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path.unlink(missing_ok=True)
    server.bind(str(path))
    server.listen(4)
    try:
        while select.select([server], [], [], idle)[0]:
            connection, _ = server.accept()
            with connection:
                requests, events = connection.makefile("rb"), connection.makefile("w")
                try:
                    hello = pickle.load(requests)
                    if hello != me:
                        events.write(json.dumps({"event": "stale"}) + "\n")
                        events.flush()
                        return  # a build with other code: let it start a daemon of its own
                    events.write(json.dumps({"event": "ready", "pid": os.getpid()}) + "\n")
                    events.flush()
                    serve(requests, events, connection.fileno(), pool)
                except (ClientGone, EOFError, ConnectionError, BrokenPipeError):
                    pass  # that build is gone; wait for the next one
    finally:
        server.close()
        path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------
# The build's side


class Connection:
    """A conversation with a worker: requests are pickles, events are JSON lines."""

    def __init__(self, requests, events, closer):
        self.requests, self.events, self._closer = requests, events, closer

    def send(self, request) -> None:
        pickle.dump(request, self.requests)
        self.requests.flush()

    def close(self, kill: bool = False) -> None:
        self._closer(kill)


def connect(build: Path) -> Connection:
    """A connection to this build folder's daemon (started if needed), or to a private worker."""
    if idle_seconds() <= 0:
        return private_worker(build)
    path = socket_path(build)
    for _ in range(2):  # a stale daemon gets one replacement
        sock = _dial(path) or _start_daemon(path, build)
        requests, events = sock.makefile("wb"), sock.makefile("r")
        pickle.dump(identity(), requests)
        requests.flush()
        reply = json.loads(events.readline() or '{"event": "gone"}')
        if reply["event"] == "ready":
            return Connection(requests, events, lambda kill, sock=sock: sock.close())
        sock.close()
        _wait_gone(path)  # it was stale and is exiting; start a fresh one
    raise LectureBuildError(f"could not reach a worker for {build} (see {build / 'logs' / 'worker.log'})")


def _dial(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
        return sock
    except OSError:
        sock.close()
        return None


def _start_daemon(path: Path, build: Path) -> socket.socket:
    log = build / "logs" / "worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as stderr:
        subprocess.Popen([sys.executable, "-m", "lecturebuild.run.daemon", str(path), str(idle_seconds())],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, cwd=build,
                         env=_environment(), start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        sock = _dial(path)
        if sock is not None:
            return sock
        time.sleep(0.02)
    raise LectureBuildError(f"the worker did not start within 120 s (see {log})")


def _wait_gone(path: Path) -> None:
    deadline = time.monotonic() + 10
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _environment() -> dict:
    parent = str(CHECKOUT)  # where lecturebuild is imported from, for the worker too
    path = os.pathsep.join(p for p in (parent, os.environ.get("PYTHONPATH", "")) if p)
    # A fixed hash seed: sets of strings iterate in the same order in every section's run.
    return {**os.environ, "PYTHONPATH": path, "PYTHONHASHSEED": HASH_SEED}


def private_worker(build: Path, without: tuple[str, ...] = ()) -> Connection:
    """A worker for this build process alone, over pipes; it dies with the build. `without`: environment
    variables it must not inherit."""
    build.mkdir(parents=True, exist_ok=True)
    env = {name: value for name, value in _environment().items() if name not in without}
    process = subprocess.Popen([sys.executable, "-m", "lecturebuild.run.worker"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=False, cwd=build, env=env)
    events = open(process.stdout.fileno(), "r", closefd=False)

    def close(kill: bool) -> None:
        if kill:
            process.kill()
        else:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    return Connection(process.stdin, events, close)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        serve_socket(Path(sys.argv[1]), float(sys.argv[2]))
    except KeyboardInterrupt:
        sys.exit(130)
