"""Sections on a Dask cluster print what they print locally, fail as they fail locally, and need no shared folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import doit

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
    result = doit(course, "executor=dask")
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
    again = doit(course)
    assert again.returncode == 0 and "runs (" not in again.stderr


FAULTS = {
    "ok": "print('fine')\n",
    "raises": "raise ValueError('bad value')\n",
    "segfault": "import ctypes\nctypes.string_at(0)\n",
    "hangs": "import time\nprint('waiting', flush=True)\nwhile True:\n    time.sleep(0.1)\n",
    # The Dask worker running it: the parent of lecturebuild's worker, which is this section's parent.
    "kills_its_worker": "import os\nstat = open(f'/proc/{os.getppid()}/stat').read()\n"
                        "os.kill(int(stat.rsplit(')', 1)[1].split()[1]), 9)\nimport time\ntime.sleep(30)\n",
}


def fault_course(root: Path) -> Path:
    folder = root / "snippets" / "odd"
    folder.mkdir(parents=True)
    (folder / "setup.py").write_text("import torch\n")
    body = ""
    for sid, code in FAULTS.items():
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
    (local / "snippets" / "odd" / "kills_its_worker.py").write_text("print('no cluster here')\n")
    here, there = doit(local), doit(remote, "executor=dask")
    assert here.returncode != 0 and there.returncode != 0
    expected, found = failures(here.stderr), failures(there.stderr)
    for sid in ("raises", "segfault", "hangs"):
        assert found[sid] == expected[sid], sid  # the same message, log path and line included
    assert "the Dask worker running it died" in found["kills_its_worker"]
    assert "ok" not in found and json.loads((remote / "build" / "results" / "odd" / "ok.json").read_text())["failure"] == ""
    assert "signal" in (remote / "build" / "logs" / "odd" / "segfault.log").read_text().lower() or \
        "Fatal Python error" in (remote / "build" / "logs" / "odd" / "segfault.log").read_text()


def test_a_separate_scheduler_and_workers_with_their_own_folders_need_no_shared_filesystem(built_sample, tmp_path):
    local, _ = built_sample
    course = tmp_path / "course"
    shutil.copytree(local, course, ignore=shutil.ignore_patterns("build"))
    (course / "data").mkdir()  # a data file a section reads must reach the workers
    (course / "data" / "numbers.txt").write_text("3 4 5\n")
    code = course / "snippets" / "02_plots" / "markup.py"
    code.write_text(code.read_text() + "print(sum(map(int, open('data/numbers.txt').read().split())))\n")
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    bin_dir = Path(sys.executable).parent
    processes = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(scheduler_file)], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        for _ in range(300):
            if scheduler_file.exists() and scheduler_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for n in (1, 2):
            folder = tmp_path / f"machine{n}"
            folder.mkdir()
            processes.append(subprocess.Popen(
                [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                 "--local-directory", str(folder)], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        result = doit(course, "executor=dask", f"scheduler={address}")
        assert result.returncode == 0, result.stderr
        assert f"on the Dask cluster at {address} (2 workers)" in result.stderr
        found, expected = outputs(course), outputs(local)
        assert found.pop("02_plots/markup")[0][0][-1]["text"].endswith("12\n")
        expected.pop("02_plots/markup")
        assert found == expected
        used = {json.loads(p.read_text())["executor"].rsplit("worker ", 1)[1]
                for p in (course / "build" / "results").glob("*/*.json") if "." not in p.stem}
        assert len(used) == 2  # both machines ran sections, each from its own copy of the course files
        for n in (1, 2):
            assert list((tmp_path / f"machine{n}").rglob("lecturebuild/*/course/snippets/01_basics/setup.py"))
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
