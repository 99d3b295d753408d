"""Build side of execution: plan a lecture's runs, hand them to the worker, report the outcome.

The build process never imports torch and never runs snippet code. The first time some section is
stale it connects to a worker (daemon.py: a warm one kept for this build folder, or a new one) and
sends it every lecture it executes afterwards, so torch is imported once, not once per lecture.
"""

from __future__ import annotations

import atexit
import json
import sys
from pathlib import Path

from . import cache, daemon
from .model import SETUP_ID, Lecture, SectionResult
from .store import Store
from .worker import WorkerOptions


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def execute_lecture(lecture: Lecture, build: Path, device: str, jobs: int = 1, time_limit: float = 600.0,
                    root: Path | None = None) -> list[str]:
    """Bring every section's stored result up to date; the failure messages (none when all is well)."""
    store = Store(Path(build).resolve())
    root = Path(root or lecture.source.parent.parent).resolve()
    env = cache.RunEnvironment.detect(device)
    stored = load_results(store, lecture)
    plan = cache.plan_lecture(lecture, env, stored, root)
    if plan:
        # Longest first (by the last run's time), so parallel sections finish together.
        plan.sort(key=lambda job: -(stored[job.section].seconds if stored.get(job.section) else 0.0))
        for job in plan:
            say(f"  {lecture.name}/{job.section}: runs ({job.reason})")
        options = WorkerOptions(device=env.device, build=store.build, root=root, jobs=jobs, time_limit=time_limit)
        _run_worker(lecture, plan, options)
        stored = load_results(store, lecture)
    messages = failure_messages(lecture, stored, cache.lecture_keys(lecture, env))
    for message in messages:
        say(message)
    return messages


def load_results(store: Store, lecture: Lecture) -> dict[str, SectionResult | None]:
    ids = ([SETUP_ID] if lecture.setup else []) + [s.id for s in lecture.runnable]
    return {sid: store.load(lecture.name, sid) for sid in ids}


_connection: daemon.Connection | None = None  # this build process's worker, kept for every lecture


def _close_worker(kill: bool = False) -> None:
    global _connection
    if _connection is not None:
        connection, _connection = _connection, None
        connection.close(kill)


atexit.register(_close_worker)


def _run_worker(lecture: Lecture, plan: list, options: WorkerOptions) -> None:
    global _connection
    total, done = len(plan), 0
    if _connection is None:
        _connection = daemon.connect(options.build)
    try:
        _connection.send((lecture, plan, options))
        for line in _connection.events:
            event = json.loads(line)
            if event["event"] == "end":
                return
            if event["event"] == "done":
                done += 1
                status = "ok" if event["ok"] else "FAILED"
                say(f"  [{done}/{total}] {lecture.name}/{event['section']}: {status} in "
                    f"{event['seconds']:.2f} s on {event['device']}")
        _close_worker(kill=True)  # it ended without finishing the request; the next request starts a new one
    except BaseException:
        _close_worker(kill=True)
        raise


def failure_messages(lecture: Lecture, results: dict[str, SectionResult | None], keys: dict[str, str]) -> list[str]:
    """One message per section that is not up to date and ok, naming lecture, section, snippet file and line."""
    messages = []
    for sid, result in results.items():
        where = f"{lecture.source.name}: section {sid!r}" if sid != SETUP_ID else f"{lecture.source.name}: setup"
        if result is None or result.key != keys[sid]:
            messages.append(f"FAILED {where}: the worker stopped before the section finished")
        elif result.failure:
            messages.append(f"FAILED {where}: {result.failure}")
        else:
            for error in result.errors:
                if not error.expected:
                    messages.append(f"FAILED {where}: {error.ename} at {error.location}: {error.evalue}\n"
                                    + _indent(error.traceback))
    return messages


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip("\n").splitlines())
