"""Build side of execution: plan a lecture's runs, hand them to the worker, report the outcome.

The build process never imports torch and never runs snippet code. It starts one worker
(`python -m lecturebuild.worker`) the first time some section is stale and sends it every lecture
it executes afterwards, so torch is imported once per build process, not once per lecture.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from . import cache
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


_worker: subprocess.Popen | None = None


def _worker_process(build: Path) -> subprocess.Popen:
    """This process's worker, started on first use; it exits when our end of its stdin closes."""
    global _worker
    if _worker is None or _worker.poll() is not None:
        build.mkdir(parents=True, exist_ok=True)
        package_parent = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH", "")) if p)
        _worker = subprocess.Popen([sys.executable, "-m", "lecturebuild.worker"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, cwd=build, env={**os.environ, "PYTHONPATH": path})
    return _worker


def _stop_worker(kill: bool = False) -> None:
    global _worker
    if _worker is None:
        return
    worker, _worker = _worker, None
    if kill:
        worker.kill()
    else:
        worker.stdin.close()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


atexit.register(_stop_worker)


def _run_worker(lecture: Lecture, plan: list, options: WorkerOptions) -> None:
    total, done = len(plan), 0
    worker = _worker_process(options.build)
    try:
        pickle.dump((lecture, plan, options), worker.stdin)
        worker.stdin.flush()
        for line in worker.stdout:
            event = json.loads(line)
            if event["event"] == "end":
                return
            if event["event"] == "done":
                done += 1
                status = "ok" if event["ok"] else "FAILED"
                say(f"  [{done}/{total}] {lecture.name}/{event['section']}: {status} in "
                    f"{event['seconds']:.2f} s on {event['device']}")
        _stop_worker(kill=True)  # it ended without finishing the request; the next request starts a new one
    except BaseException:
        _stop_worker(kill=True)
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
