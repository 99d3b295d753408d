"""Build side of execution: plan a lecture's runs, hand them to the worker, report the outcome.

The build process never imports torch and never runs snippet code. The first time some section is
stale it connects to a worker (daemon.py: a warm one kept for this build folder, or a new one) and
sends it every lecture it executes afterwards, so torch is imported once, not once per lecture.
"""

from __future__ import annotations

import atexit
import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from lecturebuild.errors import say
from lecturebuild.model import BUILD_LIMITS, SETUP_ID, Lecture, LectureDone, Limits, SectionDone, SectionResult
from lecturebuild.run import daemon, plan, schedule
from lecturebuild.run.worker import WorkerOptions
from lecturebuild.store import Store, write_atomic


@dataclass(frozen=True)
class Executor:
    """Where stale sections run: "local" (this machine's worker) or "dask" (distributed.py)."""

    kind: str = "local"
    scheduler: str = ""  # dask: the scheduler's address; empty starts a LocalCluster for the build


def execute(lectures: tuple[Lecture, ...] | list[Lecture], build: Path, device: str, jobs: int = 1,
            time_limit: float = 600.0, root: Path | None = None, reuse: bool = True,
            executor: Executor = Executor()) -> Iterator[LectureDone]:
    """Bring every section's stored result up to date, yielding each lecture as its last stale section ends
    (a lecture with nothing stale is not yielded), so that it can be rendered while others still run.

    The stale sections of all `lectures` go to the worker as one batch, the longest chain of work first
    (by their last runs; schedule.py), so it starts at once and the others fill the remaining cores."""
    store = Store(Path(build).resolve())
    root = Path(root or lectures[0].source.parent.parent).resolve()
    env = plan.RunEnvironment.detect(device)
    manifest = store.read_manifest(lectures)
    stored, forged = {}, set()
    for lecture in lectures:
        stored[lecture.name] = dict(store.results(lecture))
        for sid in store.changed_results(lecture, manifest):
            stored[lecture.name][sid] = None
            forged.add((lecture.name, sid))
    work = [(lecture, job if (lecture.name, job.section) not in forged else
             replace(job, reason="its stored result was not written by the worker: changed by hand or by code"))
            for lecture in lectures for job in plan.plan_lecture(lecture, env, stored[lecture.name], root)]
    if work:
        def last_seconds(lecture: Lecture, job: plan.Job) -> float:
            previous = stored[lecture.name].get(job.section)
            return previous.seconds if previous else 0.0

        work = schedule.by_critical_path(work, last_seconds)
        for lecture, job in work:
            say(f"  {lecture.name}/{job.section}: runs ({job.reason})")
        options = WorkerOptions(device=env.device, build=store.build, root=root, jobs=jobs,
                                limits=Limits(time=time_limit).over(BUILD_LIMITS), reuse=reuse)
        by_name = {lecture.name: lecture for lecture in lectures}
        left = Counter(lecture.name for lecture, _ in work)
        for done in _run(work, options, executor):
            if done.error:
                _unstored[(done.lecture, done.section)] = done.error
            else:
                _unstored.pop((done.lecture, done.section), None)
                manifest[(done.lecture, done.section)] = done.digest
            left[done.lecture] -= 1
            if not left[done.lecture]:  # with the digests of the results the worker stored: what may be rendered
                yield LectureDone(done.lecture, {sid: manifest.get((done.lecture, sid), "")
                                                 for sid in by_name[done.lecture].run_ids})
        for lecture in lectures:  # a section's code may have written another section's result: never use it
            for sid in store.changed_results(lecture, manifest):
                store.result_path(lecture.name, sid).unlink(missing_ok=True)
                manifest.pop((lecture.name, sid), None)
                _unstored[(lecture.name, sid)] = ("its stored result was changed while the build ran, by code of a "
                                                  "section (snippets run with your rights); it runs again next time")
        store.write_manifest(manifest)
        # The report's "ran" column describes the latest build that executed anything.
        write_atomic(store.last_run_path, json.dumps({
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "sections": {f"{lecture.name}/{job.section}": job.reason for lecture, job in work}}, indent=1))
    for lecture in lectures:
        store.write_reads_index(lecture)


def execute_lectures(lectures: tuple[Lecture, ...] | list[Lecture], build: Path, device: str, jobs: int = 1,
                     time_limit: float = 600.0, root: Path | None = None, reuse: bool = True,
                     executor: Executor = Executor()) -> dict[str, list[str]]:
    """Bring every section's stored result up to date; the failure messages of each lecture."""
    for _ in execute(lectures, build, device, jobs, time_limit, root, reuse, executor):
        pass
    env = plan.RunEnvironment.detect(device)
    return {lecture.name: lecture_failures(lecture, Store(Path(build).resolve()), env) for lecture in lectures}


def lecture_failures(lecture: Lecture, store: Store, env: plan.RunEnvironment) -> list[str]:
    return failure_messages(lecture, store.results(lecture), plan.lecture_keys(lecture, env))


def execute_lecture(lecture: Lecture, build: Path, device: str, jobs: int = 1, time_limit: float = 600.0,
                    root: Path | None = None) -> list[str]:
    """Execute one lecture's stale sections; print and return its failure messages."""
    messages = execute_lectures([lecture], build, device, jobs, time_limit, root)[lecture.name]
    for message in messages:
        say(message)
    return messages


_connection: daemon.Connection | None = None  # this build process's worker, kept for every lecture
_unstored: dict[tuple[str, str], str] = {}  # (lecture, section) -> why the worker could not store its result


def _close_worker(kill: bool = False) -> None:
    global _connection
    if _connection is not None:
        connection, _connection = _connection, None
        connection.close(kill)


atexit.register(_close_worker)


def _run(work: list, options: WorkerOptions, executor: Executor) -> Iterator[SectionDone]:
    """Run `work` on the executor, saying how each section went as it ends."""
    if executor.kind == "dask":
        from lecturebuild.run import distributed

        events = distributed.run(work, options, executor.scheduler, say)
    else:
        events = _local_events(work, options)
    for count, done in enumerate(events, 1):
        reused = [sid for sid in done.reused if sid != SETUP_ID]
        say(f"  [{count}/{len(work)}] {done.lecture}/{done.section}: {'ok' if done.ok else 'FAILED'} in "
            f"{done.seconds:.2f} s on {done.device}"
            + (f" (went on from {', '.join(reused)}, not run again)" if reused else ""))
        for note in done.notes:
            say(f"      note: {done.lecture}/{done.section} {note}")
        yield done


def _local_events(work: list, options: WorkerOptions) -> Iterator[SectionDone]:
    """The local executor: this machine's worker (daemon.py), which stores each result as it ends."""
    global _connection
    if _connection is None:
        _connection = daemon.connect(options.build)
    try:
        _connection.send((work, options))
        for line in _connection.events:
            event = json.loads(line)
            if event.pop("event") == "end":
                return
            yield SectionDone.from_data(event)
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
            marked = {s.file: s.raises for section in lecture.sections for s in section.snippets if s.raises}
            for error in result.errors:
                if not error.expected:
                    hint = GPU_MEMORY_HINT if error.ename in ("OutOfMemoryError", "CudaOutOfMemoryError") else ""
                    if error.file in marked:
                        hint += f"\n    (its snippet is marked `:raises: {marked[error.file]}`, which it did not raise)"
                    messages.append(f"FAILED {where}: {error.ename} at {error.location}: {error.evalue}{hint}\n"
                                    + _indent(error.traceback))
    return messages


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip("\n").splitlines())
