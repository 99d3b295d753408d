"""Build side of execution: plan a lecture's runs, hand them to the worker, report the outcome.

The build process never imports torch and never runs snippet code. The first time some section is
stale it connects to a worker (daemon.py: a warm one kept for this build folder, or a new one) and
sends it every lecture it executes afterwards, so torch is imported once, not once per lecture.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from . import cache, daemon, schedule
from .model import BUILD_LIMITS, SETUP_ID, Lecture, Limits, SectionResult
from .store import Store, file_digest, write_atomic
from .worker import WorkerOptions


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Executor:
    """Where stale sections run: "local" (this machine's worker) or "dask" (distributed.py)."""

    kind: str = "local"
    scheduler: str = ""  # dask: the scheduler's address; empty starts a LocalCluster for the build


def execute_lectures(lectures: tuple[Lecture, ...] | list[Lecture], build: Path, device: str, jobs: int = 1,
                     time_limit: float = 600.0, root: Path | None = None, reuse: bool = True,
                     done=None, executor: Executor = Executor()) -> dict[str, list[str]]:
    """Bring every section's stored result up to date; the failure messages of each lecture.
    `done(name, digests)` is called as a lecture's last stale section ends, with the digests of its results.

    The stale sections of all `lectures` go to the worker as one batch, the longest chain of work first
    (by their last runs; schedule.py), so it starts at once and the others fill the remaining cores."""
    store = Store(Path(build).resolve())
    root = Path(root or lectures[0].source.parent.parent).resolve()
    env = cache.RunEnvironment.detect(device)
    manifest = _read_manifest(store, lectures)
    stored, forged = {}, set()
    for lecture in lectures:
        stored[lecture.name] = load_results(store, lecture)
        for sid in _changed_results(store, lecture, manifest):
            stored[lecture.name][sid] = None
            forged.add((lecture.name, sid))
    work = [(lecture, job if (lecture.name, job.section) not in forged else
             replace(job, reason="its stored result was not written by the worker: changed by hand or by code"))
            for lecture in lectures for job in cache.plan_lecture(lecture, env, stored[lecture.name], root)]
    if work:
        def last_seconds(item) -> float:
            previous = stored[item[0].name].get(item[1].section)
            return previous.seconds if previous else 0.0

        work = schedule.by_critical_path(work, lambda lecture, job: last_seconds((lecture, job)))
        for lecture, job in work:
            say(f"  {lecture.name}/{job.section}: runs ({job.reason})")
        options = WorkerOptions(device=env.device, build=store.build, root=root, jobs=jobs,
                                limits=Limits(time=time_limit).over(BUILD_LIMITS), reuse=reuse)
        def lecture_done(name: str, digests: dict[str, str]) -> None:
            if done is not None:  # with the digests of the results the worker stored: what may be rendered
                stored = {**manifest, **digests}
                done(name, {sid: stored.get(f"{name}/{sid}", "") for sid in _result_paths(store, by_name[name])})

        by_name = {lecture.name: lecture for lecture in lectures}
        manifest.update(_run(work, options, executor, lecture_done))
        for lecture in lectures:  # a section's code may have written another section's result: never use it
            for sid in _changed_results(store, lecture, manifest):
                store.result_path(lecture.name, sid).unlink(missing_ok=True)
                manifest.pop(f"{lecture.name}/{sid}", None)
                _unstored[(lecture.name, sid)] = ("its stored result was changed while the build ran, by code of a "
                                                  "section (snippets run with your rights); it runs again next time")
        _write_manifest(store, manifest)
        # The report's "ran" column describes the latest build that executed anything.
        write_atomic(store.last_run_path, json.dumps({
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "sections": {f"{lecture.name}/{job.section}": job.reason for lecture, job in work}}, indent=1))
    for lecture in lectures:
        write_reads_index(store, lecture)
    return {lecture.name: lecture_failures(lecture, store, env) for lecture in lectures}


def write_reads_index(store: Store, lecture: Lecture) -> None:
    """The files any of the lecture's results read: doit consults them to decide whether to plan at all."""
    reads: dict[str, str] = {}
    for result in load_results(store, lecture).values():
        reads.update(result.reads if result is not None else {})
    path = store.reads_path(lecture.name)
    text = json.dumps(dict(sorted(reads.items())), indent=0)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        write_atomic(path, text)


def reads_unchanged(index: str, root: str) -> bool:
    """doit's up-to-date check of a lecture's execute task: False once a file its sections read changed
    (a data file, a local module); the task then runs, and the planner says which file it was."""
    try:
        reads = json.loads(Path(index).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return not any(file_digest(Path(root) / path) != digest for path, digest in reads.items())


def lecture_failures(lecture: Lecture, store: Store, env: cache.RunEnvironment) -> list[str]:
    return failure_messages(lecture, load_results(store, lecture), cache.lecture_keys(lecture, env))


def execute_lecture(lecture: Lecture, build: Path, device: str, jobs: int = 1, time_limit: float = 600.0,
                    root: Path | None = None) -> list[str]:
    """Execute one lecture's stale sections; print and return its failure messages."""
    messages = execute_lectures([lecture], build, device, jobs, time_limit, root)[lecture.name]
    for message in messages:
        say(message)
    return messages


def load_results(store: Store, lecture: Lecture) -> dict[str, SectionResult | None]:
    ids = ([SETUP_ID] if lecture.setup else []) + [s.id for s in lecture.runnable]
    return {sid: store.load(lecture.name, sid) for sid in ids}


_connection: daemon.Connection | None = None  # this build process's worker, kept for every lecture
_unstored: dict[tuple[str, str], str] = {}  # (lecture, section) -> why the worker could not store its result


def _close_worker(kill: bool = False) -> None:
    global _connection
    if _connection is not None:
        connection, _connection = _connection, None
        connection.close(kill)


atexit.register(_close_worker)


def _read_manifest(store: Store, lectures) -> dict[str, str]:
    """The digests of the results the worker stored. A build folder without a manifest (new, or from an
    older lecturebuild) takes the results it holds as they are, once."""
    try:
        return {key: entry["digest"] for key, entry in json.loads(store.manifest_path.read_text("utf-8")).items()}
    except (OSError, ValueError, TypeError, KeyError):
        return {f"{lecture.name}/{sid}": file_digest(path) for lecture in lectures
                for sid, path in _result_paths(store, lecture).items() if path.exists()}


def _write_manifest(store: Store, manifest: dict[str, str]) -> None:
    """With each digest, the file's modification time: doit's up-to-date check compares that (cheaply)."""
    entries = {}
    for key, digest in sorted(manifest.items()):
        lecture, _, sid = key.partition("/")
        with contextlib.suppress(OSError):
            entries[key] = {"digest": digest, "mtime": store.result_path(lecture, sid).stat().st_mtime_ns}
    write_atomic(store.manifest_path, json.dumps(entries, indent=0))


def results_untouched(manifest_path: str, lecture: str, paths: list[str]) -> bool:
    """doit's up-to-date check of an execute task: False once a stored result was changed since the
    worker wrote it (by hand, or by a process a section left behind); the planner then runs it again."""
    try:
        entries = json.loads(Path(manifest_path).read_text("utf-8"))
    except (OSError, ValueError):
        return True  # no manifest yet: the first executing build makes one
    for path in paths:
        entry = entries.get(f"{lecture}/{Path(path).stem}")
        with contextlib.suppress(OSError):
            if entry is None or Path(path).stat().st_mtime_ns != entry["mtime"]:
                return False
    return True


def _result_paths(store: Store, lecture: Lecture) -> dict[str, Path]:
    ids = ([SETUP_ID] if lecture.setup else []) + [s.id for s in lecture.runnable]
    return {sid: store.result_path(lecture.name, sid) for sid in ids}


def _changed_results(store: Store, lecture: Lecture, manifest: dict[str, str]) -> list[str]:
    """The lecture's stored results whose content is not what the worker stored."""
    return [sid for sid, path in _result_paths(store, lecture).items()
            if path.exists() and manifest.get(f"{lecture.name}/{sid}") != file_digest(path)]


def _run(work: list, options: WorkerOptions, executor: Executor, lecture_done=None) -> dict[str, str]:
    """Run `work` on the executor; the digests of the results stored, by "<lecture>/<section>".
    `lecture_done(name, digests)` is called as each lecture's last section of `work` ends."""
    total, done, digests = len(work), 0, {}
    left = Counter(lecture.name for lecture, _ in work)
    if executor.kind == "dask":
        from . import distributed

        events = distributed.run(work, options, executor.scheduler, say)
    else:
        events = _local_events(work, options)
    for event in events:
        done += 1
        status = "ok" if event["ok"] else "FAILED"
        reused = event.get("reused") and [sid for sid in event["reused"] if sid != SETUP_ID]
        say(f"  [{done}/{total}] {event['lecture']}/{event['section']}: {status} in "
            f"{event['seconds']:.2f} s on {event['device']}"
            + (f" (went on from {', '.join(reused)}, not run again)" if reused else ""))
        for note in event.get("notes", ()):
            say(f"      note: {event['lecture']}/{event['section']} {note}")
        if "error" in event:
            _unstored[(event["lecture"], event["section"])] = event["error"]
        else:
            _unstored.pop((event["lecture"], event["section"]), None)
            digests[f"{event['lecture']}/{event['section']}"] = event["digest"]
        left[event["lecture"]] -= 1
        if lecture_done is not None and not left[event["lecture"]]:
            lecture_done(event["lecture"], digests)
    return digests


def _local_events(work: list, options: WorkerOptions):
    """The local executor: this machine's worker (daemon.py), which stores each result as it ends."""
    global _connection
    if _connection is None:
        _connection = daemon.connect(options.build)
    try:
        _connection.send((work, options))
        for line in _connection.events:
            event = json.loads(line)
            if event["event"] == "end":
                return
            if event["event"] == "done":
                yield event
        _close_worker(kill=True)  # it ended without finishing the request; the next request starts a new one
    except BaseException:
        _close_worker(kill=True)
        raise


GPU_MEMORY_HINT = ("\n    (the section needs more GPU memory than was free: other processes on the GPU hold "
                   "some, and each section starts with an empty cache; make the section smaller or free the GPU)")


def failure_messages(lecture: Lecture, results: dict[str, SectionResult | None], keys: dict[str, str]) -> list[str]:
    """One message per section that is not up to date and ok, naming lecture, section, snippet file and line."""
    messages = []
    for sid, result in results.items():
        where = f"{lecture.source.name}: section {sid!r}" if sid != SETUP_ID else f"{lecture.source.name}: setup"
        if (lecture.name, sid) in _unstored:
            messages.append(f"FAILED {where}: {_unstored[(lecture.name, sid)]}")
        elif result is None or result.key != keys[sid]:
            messages.append(f"FAILED {where}: the worker stopped before the section finished")
        elif result.failure:
            messages.append(f"FAILED {where}: {result.failure}")
        else:
            for error in result.errors:
                if not error.expected:
                    hint = GPU_MEMORY_HINT if error.ename in ("OutOfMemoryError", "CudaOutOfMemoryError") else ""
                    messages.append(f"FAILED {where}: {error.ename} at {error.location}: {error.evalue}{hint}\n"
                                    + _indent(error.traceback))
    return messages


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip("\n").splitlines())
