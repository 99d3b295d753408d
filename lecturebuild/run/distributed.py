"""The Dask executor: `doit executor=dask scheduler=ADDRESS` runs the stale sections on a Dask cluster.

Planning stays here (run/plan.py says which sections are stale) and results are stored here (store.py);
Dask only schedules. Each stale section is one Dask task, which runs it on a Dask worker exactly as a
local build does: through lecturebuild's own worker there (one per Dask worker process, kept warm
for every task it gets: torch is imported once), with the same isolation, seeding, device rules and
limits, in a course folder made on that machine from the files the build ships (the lectures'
snippets folders, the course root's Python modules and data/). Nothing relies on a shared
filesystem. The task returns what the run wrote (its result, figures, declared files and logs); the
build stores it, so keys, messages and outputs are those of a local run.

Without an address, a LocalCluster sized to this machine is started for the build. Dask is imported
only here, and only when a build asks for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import select
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from lecturebuild.errors import LectureBuildError
from lecturebuild.model import Device, SectionDone, SectionResult
from lecturebuild.run.capture import layout_path
from lecturebuild.run.device import torch_version
from lecturebuild.store import Store, write_atomic
from lecturebuild.version import code_digest

SHIP_LIMIT_MB = 256  # the course files a build ships to the cluster, at most ($LECTUREBUILD_SHIP_LIMIT_MB)
_SKIP = {"__pycache__", ".ipynb_checkpoints", ".git"}


def course_files(root: Path, lectures) -> dict[str, bytes]:
    """What a section may need on a machine that has none of the course: every lecture's snippets folder,
    the Python modules in the course root and data/, by path relative to the course root."""
    paths: list[Path] = []
    for folder in [root / "snippets" / lecture.name for lecture in lectures] + [root / "data"]:
        if folder.is_dir():
            paths += [p for p in sorted(folder.rglob("*")) if p.is_file() and not _SKIP & set(p.parts)]
    paths += sorted(p for p in root.glob("*.py") if p.is_file())
    limit = int(os.environ.get("LECTUREBUILD_SHIP_LIMIT_MB", SHIP_LIMIT_MB)) * 2**20
    total = sum(p.stat().st_size for p in paths)
    if total > limit:
        ordered = sorted(paths, key=lambda p: -p.stat().st_size)
        largest = ordered[:1] + [p for p in ordered[1:3] if p.stat().st_size >= 2**20]
        raise LectureBuildError(
            f"the course's files that sections may read come to {total / 2**20:.0f} MB (largest: "
            + ", ".join(f"{p.relative_to(root)} {p.stat().st_size / 2**20:.0f} MB" for p in largest)
            + f"), more than the {limit // 2**20} MB a build ships to a Dask cluster; keep large data where every "
            "worker can read it (and read it from there), or raise LECTUREBUILD_SHIP_LIMIT_MB")
    return {str(p.relative_to(root)): p.read_bytes() for p in paths}


def describe(client) -> str:
    info = client.scheduler_info()
    workers = len(info.get("workers", {}))
    return f"the Dask cluster at {info.get('address', client.scheduler.address)} ({workers} worker{'s' * (workers != 1)})"


def run(work: list, options, scheduler: str, say) -> Iterator[SectionDone]:
    """Run `work` ((lecture, job) pairs) on the cluster at `scheduler` (a LocalCluster when empty); yield a
    SectionDone per section as it ends, after storing its result, as the local worker reports them."""
    from dask.distributed import Client, LocalCluster, as_completed


    files = course_files(options.root, {lecture.name: lecture for lecture, _ in work}.values())
    digest = hashlib.sha256(b"".join(k.encode() + b"\0" + hashlib.sha256(v).digest()
                                     for k, v in sorted(files.items()))).hexdigest()[:20]
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=30)
        except OSError as exc:
            raise LectureBuildError(f"could not reach the Dask scheduler at {scheduler}: {exc}") from None
    else:
        import dask

        lanes = max(1, options.jobs)
        dask.config.set({"distributed.scheduler.allowed-failures": 1})  # a lost worker's sections: retried once
        cluster = LocalCluster(n_workers=lanes, threads_per_worker=1, processes=True, dashboard_address=None,
                               resources={"GPU": 1} if options.device == "cuda" else None)
        client = Client(cluster)
    try:
        client.wait_for_workers(1, timeout=120)
    except Exception:  # noqa: BLE001 - dask raises a plain TimeoutError
        client.close()
        raise LectureBuildError(f"the Dask scheduler at {scheduler or 'this machine'} has no workers (waited 120 s); "
                                "start some with `dask worker ADDRESS`") from None
    store = Store(options.build)
    where = describe(client)
    say(f"  running {len(work)} section{'s' * (len(work) != 1)} on {where}")
    futures = {}
    try:
        # On every worker: a worker that dies takes its copy with it, and the sections retried elsewhere still find one.
        [shipped] = client.scatter([files], hash=False, broadcast=True)
        expected = (code_digest(), torch_version(), platform.python_version())
        for lecture, job in work:
            future = client.submit(run_section, digest, shipped, lecture, job, options, expected, pure=False,
                                   key=f"lecturebuild-{lecture.name}-{job.section}-{job.key[:12]}-{os.getpid()}",
                                   resources={"GPU": 1} if options.device == "cuda" else None)
            futures[future] = (lecture, job)
        # Results are fetched as each task ends, not when the build gets to it: a worker that dies later (a
        # retried section that kills it too) would otherwise take finished sections' results with it.
        for future, payload in as_completed(futures, with_results=True, raise_errors=False):
            lecture, job = futures[future]
            if not isinstance(payload, dict):  # an error or a cancellation, in whatever form Dask hands it over
                try:
                    future.result()
                    problem = f"it could not run on the Dask cluster: {payload!r}"
                except Exception as exc:  # noqa: BLE001 - the section's failure, not the build's
                    problem = _why(exc)
                yield _failed(store, lecture, job, options, problem, where)
            else:
                yield _stored(store, payload, where)
    except BaseException:  # Ctrl-C or a lost scheduler: cancel what is left on the cluster
        client.cancel(list(futures), force=True)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _why(exc: BaseException) -> str:
    if type(exc).__name__ == "KilledWorker":
        return ("the Dask worker running it died (the machine ran out of memory, or the worker process was "
                "killed), on a second worker too after a retry; see the Dask workers' logs")
    if isinstance(exc, LectureBuildError):
        return str(exc)
    return f"it could not run on the Dask cluster: {type(exc).__name__}: {exc}"


def _failed(store: Store, lecture, job, options, failure: str, where: str) -> SectionDone:
    result = SectionResult(lecture=lecture.name, section=job.section, key=job.key, inputs=job.inputs, runs=(),
                           values={}, device=Device(options.device, "", "", platform.python_version()), seconds=0.0,
                           finished="", failure=failure, executor=where)
    return SectionDone.of(result, digest=store.write(result))


def _stored(store: Store, payload: dict, where: str) -> SectionDone:
    """Store what a task brought back, as the local worker stores what a section process hands over."""
    result = SectionResult.from_data(json.loads(payload["result"]))
    result = replace(result, executor=f"{where}, worker {payload['worker']}")
    for path, data in payload["files"].items():
        target = store.build / path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
    return SectionDone.of(result, digest=store.write(result))


# ----------------------------------------------------------------------------------------------
# On a Dask worker

_lock = threading.Lock()  # one section at a time through this process's lecturebuild worker
_workers: dict[Path, object] = {}


def run_section(digest: str, files: dict[str, bytes], lecture, job, options, expected: tuple[str, str]) -> dict:
    """Run one section on this Dask worker's machine; what it wrote, by path relative to the build folder."""
    from distributed import get_worker

    from lecturebuild.run import daemon

    here = (code_digest(), torch_version(), platform.python_version())
    if here != expected:
        differ = [f"{what} {mine} (the build has {theirs})" for what, mine, theirs in
                  zip(("lecturebuild code", "torch", "Python"), here, expected) if mine != theirs]
        raise LectureBuildError(f"the Dask worker {get_worker().address} has {'; '.join(differ)}: install the same "
                                "lecturebuild, torch and Python on every worker")
    worker = get_worker()
    root = Path(worker.local_directory) / "lecturebuild" / digest / "course"
    _materialize(root, files)
    build = root / "build"
    options = replace(options, root=root, build=build, jobs=1)
    with _lock:
        connection = _workers.get(build)
        if connection is None:
            connection = _workers[build] = daemon.private_worker(build, _set_by_dask())
        try:
            connection.send(([(lecture, job)], options))
            _wait_for_end(connection, worker)
        except BaseException:
            _workers.pop(build, None)
            connection.close(kill=True)
            raise
    store = Store(build)
    result_path = store.result_path(lecture.name, job.section)
    result = json.loads(result_path.read_text(encoding="utf-8"))
    back = [store.log_path(lecture.name, job.section), store.output_log_path(lecture.name, job.section)]
    back += [store.figures_dir(lecture.name) / o["file"] for run in result["runs"] for o in run["outputs"]
             if o.get("kind") == "figure"]
    files_dir = store.files_dir(lecture.name, job.section)
    back += [p for p in sorted(files_dir.rglob("*")) if p.is_file()] if files_dir.is_dir() else []
    back.append(layout_path(store.output_log_path(lecture.name, job.section)))
    return {"result": result_path.read_text(encoding="utf-8"), "worker": worker.address,
            "files": {str(p.relative_to(build)): p.read_bytes() for p in back if p.is_file()}}


def _set_by_dask() -> tuple[str, ...]:
    """The environment variables a Dask nanny sets for its worker process (MALLOC_TRIM_THRESHOLD_, which
    makes torch's allocations on the CPU several times slower, and thread counts), where they still have
    its values: sections must run in the environment they get locally."""
    import dask

    spawned = dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}
    return tuple(name for name, value in spawned.items() if os.environ.get(name) == str(value))


def _wait_for_end(connection, worker) -> None:
    """Read the worker's events to the end of the request; if the build cancels this task meanwhile (Ctrl-C),
    stop the section: closing lecturebuild's worker takes its section processes with it."""
    from distributed.worker import thread_state

    key = getattr(thread_state, "key", None)
    fd, pending = connection.events.fileno(), b""  # read unbuffered, so that select sees every line
    while True:
        if not select.select([fd], [], [], 0.5)[0]:
            task = worker.state.tasks.get(key) if key is not None else None
            if key is not None and (task is None or task.state in ("cancelled", "released", "forgotten")):
                raise LectureBuildError("cancelled by the build")
            continue
        data = os.read(fd, 65536)
        if not data:
            raise LectureBuildError(f"lecturebuild's worker on {worker.address} stopped")
        *lines, pending = (pending + data).split(b"\n")
        if any(json.loads(line)["event"] == "end" for line in lines if line.strip()):
            return


def _materialize(root: Path, files: dict[str, bytes]) -> None:
    """The shipped course files under `root`, written once per content (a folder named by their digest)."""
    if (root / ".complete").exists():
        return
    partial = root.with_name(f"course.{os.getpid()}.{threading.get_ident()}")
    shutil.rmtree(partial, ignore_errors=True)
    for path, data in files.items():
        target = partial / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (partial / ".complete").write_text("")
    try:
        partial.rename(root)
    except OSError:  # another process of this worker made it first
        shutil.rmtree(partial, ignore_errors=True)
