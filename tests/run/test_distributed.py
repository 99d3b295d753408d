"""Sections on a Dask cluster print what they print locally, fail as they fail locally, and need no shared folder."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, SAMPLE, doit

pytest.importorskip("distributed")


def outputs(course: Path) -> dict:
    """Every result's outputs, values, failure, reads and key: what must not depend on where it ran."""
    found = {}
    for path in (course / "build" / "results").glob("*/*.json"):
        if "." not in path.stem:
            r = json.loads(path.read_text())
            found[f"{path.parent.name}/{path.stem}"] = (
                [[{k: v for k, v in o.items() if k != "seconds"} for o in run["outputs"]] for run in r["runs"]],
                r["values"], r["failure"], r["reads"], r["key"])
    return found


def test_the_sample_course_on_a_local_cluster_prints_what_the_local_build_prints(built_sample, tmp_path):
    local, _ = built_sample
    course = tmp_path / "course"
    shutil.copytree(local, course, ignore=shutil.ignore_patterns("build"))
    config = course / "course.yml"
    config.write_text(config.read_text() + "executor: dask\n")  # the course's own choice
    result = doit(course)
    assert result.returncode == 0, result.stderr
    assert "on the Dask cluster at tcp://127.0.0.1:" in result.stderr and "(2 workers)" in result.stderr
    assert outputs(course) == outputs(local)
    figures = sorted(p.name for p in (course / "build" / "results" / "02_plots" / "figures").iterdir())
    assert figures and figures == sorted(p.name for p in (local / "build" / "results" / "02_plots" / "figures").iterdir())
    model = json.loads((course / "build" / "results" / "01_basics" / "model.json").read_text())
    assert model["executor"].startswith("the Dask cluster at tcp://") and ", worker tcp://" in model["executor"]
    assert (course / "build" / "site" / "02_plots.html").exists()
    assert (course / "build" / "logs" / "01_basics" / "training.log").exists()
    # The cache keys do not depend on the executor: switching runs nothing.
    again = doit(course, "executor=local")
    assert again.returncode == 0 and "runs (" not in again.stderr


FAULTS = {
    "ok": "print('fine')\n",
    "raises": "raise ValueError('bad value')\n",
    "segfault": "import ctypes\nctypes.string_at(0)\n",
    "hangs": "import time\nprint('waiting', flush=True)\nwhile True:\n    time.sleep(0.1)\n",
}
# It kills the Dask worker running it: the parent of lecturebuild's worker there, which is its own parent.
KILLS_ITS_WORKER = ("import os\nstat = open(f'/proc/{os.getppid()}/stat').read()\n"
                    "os.kill(int(stat.rsplit(')', 1)[1].split()[1]), 9)\nimport time\ntime.sleep(30)\n")


def fault_course(root: Path, sections: dict[str, str] = FAULTS) -> Path:
    folder = root / "snippets" / "odd"
    folder.mkdir(parents=True)
    (folder / "setup.py").write_text("import torch\n")
    body = ""
    for sid, code in sections.items():
        (folder / f"{sid}.py").write_text(code)
        body += f"## {sid} {{#{sid}}}\n\n```{{snippet}} {sid}.py\n```\n\n"
    (root / "lectures").mkdir()
    (root / "lectures" / "odd.md").write_text(
        f"---\ntitle: Odd\norder: 1\nsummary: What goes wrong.\nsetup: setup.py\ntime_limit: 4\n---\n{body}")
    return root


def failures(stderr: str) -> dict[str, str]:
    return {line.split("section '")[1].split("'")[0]: line for line in stderr.splitlines()
            if line.startswith("FAILED odd.md: section '")}


def test_faults_on_the_cluster_fail_their_section_as_they_do_locally(tmp_path):
    local = fault_course(tmp_path / "local")
    remote = tmp_path / "remote"
    shutil.copytree(local, remote)
    here, there = doit(local), doit(remote, "executor=dask")
    assert here.returncode != 0 and there.returncode != 0
    expected, found = failures(here.stderr), failures(there.stderr)
    assert found.keys() == expected.keys() == {"raises", "segfault", "hangs"}
    for sid in found:
        assert found[sid] == expected[sid], sid  # the same message, log path and line included
    assert json.loads((remote / "build" / "results" / "odd" / "ok.json").read_text())["failure"] == ""
    assert "Fatal Python error" in (remote / "build" / "logs" / "odd" / "segfault.log").read_text()


def test_a_section_whose_dask_worker_dies_is_retried_once_then_reported_and_the_rest_runs(tmp_path):
    course = fault_course(tmp_path / "course", {"ok": FAULTS["ok"], "kills_its_worker": KILLS_ITS_WORKER})
    result = doit(course, "executor=dask")
    assert result.returncode != 0
    found = failures(result.stderr)
    assert found.keys() == {"kills_its_worker"}
    assert "the Dask worker running it died" in found["kills_its_worker"]
    assert json.loads((course / "build" / "results" / "odd" / "ok.json").read_text())["failure"] == ""


@contextlib.contextmanager
def cluster(folder: Path, workers: int):
    """A `dask scheduler` and `workers` single-threaded `dask worker` processes, each in a folder of its own
    (machine1, machine2, ...), as on separate machines; yields the scheduler's address."""
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    dask = str(Path(sys.executable).parent / "dask")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True, "env": env}
    processes = [subprocess.Popen([dask, "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file",
                                   str(scheduler_file)], cwd=folder, **quiet)]
    try:
        for _ in range(300):
            if scheduler_file.exists() and scheduler_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for n in range(1, workers + 1):
            machine = folder / f"machine{n}"
            machine.mkdir()
            processes.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                               "--no-dashboard", "--local-directory", str(machine)], cwd=machine,
                                              **quiet))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_separate_scheduler_and_workers_with_their_own_folders_need_no_shared_filesystem(built_sample, tmp_path):
    local, _ = built_sample
    course = tmp_path / "course"
    shutil.copytree(local, course, ignore=shutil.ignore_patterns("build"))
    (course / "data").mkdir()  # a data file a section reads must reach the workers
    (course / "data" / "numbers.txt").write_text("3 4 5\n")
    code = course / "snippets" / "02_plots" / "markup.py"
    code.write_text(code.read_text() + "print(sum(map(int, open('data/numbers.txt').read().split())))\n")
    (course / "snippets" / "02_plots" / "weights.py").write_text("open('weights.csv', 'w').write('w,b\\n2,1\\n')\n")
    lecture = course / "lectures" / "02_plots.md"  # a file for students, declared with :files:
    lecture.write_text(lecture.read_text() + "\n## Weights {#weights}\n\n```{snippet} weights.py\n:files: weights.csv\n```\n")
    with cluster(tmp_path, workers=2) as address:
        result = doit(course, "executor=dask", f"scheduler={address}")
        from distributed import Client

        with Client(address, timeout=60) as client:  # each worker's own folder, while it is alive
            folders = client.run(lambda dask_worker: dask_worker.local_directory)
        copies = {worker: list(Path(folder).rglob("lecturebuild/*/course/snippets/*/setup.py"))
                  for worker, folder in folders.items()}
    assert result.returncode == 0, result.stderr
    assert f"on the Dask cluster at {address} (2 workers)" in result.stderr
    found, expected = outputs(course), outputs(local)
    assert found.pop("02_plots/markup")[0][0][-1]["text"].endswith("12\n")
    expected.pop("02_plots/markup")
    assert found.pop("02_plots/weights")[2] == ""
    assert found == expected
    assert (course / "build" / "results" / "02_plots" / "files" / "weights" / "weights.csv").read_text() == "w,b\n2,1\n"
    used = {json.loads(p.read_text())["executor"].rsplit("worker ", 1)[1]
            for p in (course / "build" / "results").glob("*/*.json") if "." not in p.stem}
    assert len(used) == 2  # both machines ran sections...
    alive = used & set(copies)  # (a worker that its nanny restarted under load has gone, with its folder)
    assert alive, (used, folders)
    for worker in alive:  # ...each from its own copy of the course files, in its own folder
        assert copies[worker] and all(Path(folders[worker]) in path.parents for path in copies[worker]), worker
    assert {Path(f).relative_to(tmp_path).parts[0] for f in folders.values()} == {"machine1", "machine2"}


def test_ctrl_c_stops_the_sections_running_on_the_cluster(tmp_path):
    course = tmp_path / "course"
    folder = course / "snippets" / "slow"
    folder.mkdir(parents=True)
    (course / "lectures").mkdir()
    pids = tmp_path / "pids"
    (folder / "setup.py").write_text("import os, time\n")
    (folder / "sleeps.py").write_text(f"open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\ntime.sleep(120)\n")
    (course / "lectures" / "slow.md").write_text("---\ntitle: Slow\norder: 1\nsummary: Sleeps.\nsetup: setup.py\n"
                                                 "---\n## Sleeps {#sleeps}\n\n```{snippet} sleeps.py\n```\n")
    with cluster(tmp_path, workers=1) as address:
        build = subprocess.Popen([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), f"course={course}",
                                  "executor=dask", f"scheduler={address}"], cwd=course, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        for _ in range(1200):
            if pids.exists() and pids.read_text().strip():
                break
            time.sleep(0.1)
        section = int(pids.read_text().split()[0])
        build.send_signal(signal.SIGINT)  # only the build: the cluster is elsewhere
        build.communicate(timeout=60)
        assert build.returncode != 0
        for _ in range(100):  # the worker sees the task cancelled within a second and ends the section
            if not Path(f"/proc/{section}").exists():
                break
            time.sleep(0.1)
        assert not Path(f"/proc/{section}").exists()


def test_a_local_build_never_imports_dask(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(SAMPLE, course)
    blocker = tmp_path / "blocker"
    for name in ("dask", "distributed"):
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('{name} was imported')\n")
    path = os.pathsep.join([str(blocker), str(REPO), os.environ.get("PYTHONPATH", "")])
    result = doit(course, env={"PYTHONPATH": path})
    assert result.returncode == 0, result.stderr
    assert "was imported" not in result.stderr


def test_a_course_with_more_files_than_a_build_ships_says_so_and_runs_nothing(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(SAMPLE, course)
    (course / "data").mkdir()
    (course / "data" / "images.bin").write_bytes(b"\0" * 3 * 2**20)
    result = doit(course, "executor=dask", env={"LECTUREBUILD_SHIP_LIMIT_MB": "2"})
    assert result.returncode != 0
    assert "come to 3 MB (largest: data/images.bin 3 MB), more than the 2 MB a build ships" in result.stderr
    assert not list((course / "build" / "results").glob("*/*.json"))
