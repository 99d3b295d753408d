"""What runs when and where: the order of sections, spare processes, rendering beside running sections."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from conftest import doit

from lecturebuild.course.load import load_course
from lecturebuild.run import schedule
from lecturebuild.run.plan import Job


def course_with(root: Path, lectures: dict[str, dict[str, tuple[str, str]]]) -> Path:
    """A course of lectures {name: {section: (needs, code)}}, each with a setup."""
    (root / "lectures").mkdir(parents=True)
    for order, (name, sections) in enumerate(lectures.items(), 1):
        folder = root / "snippets" / name
        folder.mkdir(parents=True)
        (folder / "setup.py").write_text("import os, time\n")
        body = ""
        for sid, (needs, code) in sections.items():
            (folder / f"{sid}.py").write_text(code)
            body += f"## {sid} {{#{sid}{f' needs={needs}' if needs else ''}}}\n\n```{{snippet}} {sid}.py\n```\n\n"
        (root / "lectures" / f"{name}.md").write_text(
            f"---\ntitle: {name}\norder: {order}\nsummary: A lecture.\nsetup: setup.py\n---\n{body}")
    return root


def work_of(course: Path) -> list:
    lectures = load_course(course).lectures
    return [(lecture, Job(section=sid, key="k", inputs={}, reason="test")) for lecture in lectures
            for sid in ["_setup"] + [s.id for s in lecture.runnable]]


def test_the_longest_chain_starts_first_and_a_setup_goes_before_what_waits_on_it(tmp_path):
    course = course_with(tmp_path, {
        "a": {"short": ("", "pass\n"), "model": ("", "pass\n"), "train": ("model", "pass\n")},
        "b": {"long": ("", "pass\n")},
    })
    seconds = {("a", "_setup"): 0.1, ("a", "short"): 1.0, ("a", "model"): 0.5, ("a", "train"): 3.0,
               ("b", "_setup"): 0.1, ("b", "long"): 5.0}
    order = [(lecture.name, job.section) for lecture, job in
             schedule.by_critical_path(work_of(course), lambda lecture, job: seconds[lecture.name, job.section])]
    # b's setup leads the longest chain (0.1 + 5.0), then a's (0.1 + 0.5 + 3.0); within a lecture, what
    # others go on from comes before them
    assert order == [("b", "_setup"), ("b", "long"), ("a", "_setup"), ("a", "model"), ("a", "train"),
                     ("a", "short")]


def test_a_rebuild_starts_the_longest_chain_first(tmp_path):
    course = course_with(tmp_path, {
        "a": {"quick": ("", "print('quick')\n"), "also": ("", "print('also')\n")},
        "b": {"slow": ("", "time.sleep(1.5)\nprint('slow')\n")},
    })
    assert doit(course, "execute").returncode == 0
    for lecture in ("a", "b"):  # every section runs again, now with its last run time known
        setup = course / "snippets" / lecture / "setup.py"
        setup.write_text(setup.read_text() + "# edited\n")
    result = doit(course, "execute")
    assert result.returncode == 0, result.stderr
    planned = [line.split(":")[0].strip() for line in result.stderr.splitlines() if ": runs (" in line]
    assert planned[:2] == ["b/_setup", "b/slow"] and len(planned) == 5
    progress = [line for line in result.stderr.splitlines() if line.lstrip().startswith("[")]
    assert "b/slow" in progress[-1]  # it started first and ended last: the others ran beside it


def test_a_section_waits_for_what_it_can_go_on_from_only_where_processes_fork(tmp_path):
    course = course_with(tmp_path, {"a": {"model": ("", "pass\n"), "train": ("model", "pass\n")}})
    work = work_of(course)
    plan = schedule.Plan(work, forks=lambda lecture: True)
    first, _ = plan.next([])
    assert first.job.section == "_setup"
    assert plan.next([]) is None  # model and train wait for the setup's process: no second start
    plan.finished(first)

    class Idle:
        lecture, history = "a", ("_setup",)

    model, start = plan.next([Idle()])
    assert (model.job.section, start.history) == ("model", ("_setup",))
    assert plan.next([Idle()]) is None  # train waits for model, which goes further than the setup
    unforked = schedule.Plan(work, forks=lambda lecture: False)
    assert [unforked.next([])[0].job.section for _ in range(3)] == ["_setup", "model", "train"]


def test_lectures_are_rendered_while_other_lectures_sections_still_run(tmp_path):
    handout = tmp_path / "build" / "markdown" / "quick.md"
    course = course_with(tmp_path, {
        "quick": {"fast": ("", "print('quick')\n")},
        # It waits (at most 60 s) for the quick lecture's handout and says when it saw it.
        "slow": {"wait": ("", "for _ in range(600):\n    if os.path.exists(os.environ['HANDOUT']):\n        break\n"
                          "    time.sleep(0.1)\nprint('seen', os.path.exists(os.environ['HANDOUT']))\n"
                          "print(os.stat(os.environ['HANDOUT']).st_mtime_ns)\n")},
    })
    result = doit(course, "jobs=2", env={"HANDOUT": str(handout)})
    assert result.returncode == 0, result.stderr
    wait = json.loads((course / "build" / "results" / "slow" / "wait.json").read_text())
    seen, mtime = wait["runs"][0]["outputs"][0]["text"].split("\n")[:2]
    assert seen == "seen True"
    assert int(mtime) == handout.stat().st_mtime_ns  # the markdown task found it done and left it
    for page in (course / "build" / "html" / "quick.html", course / "build" / "site" / "quick.html",
                 course / "build" / "notebooks" / "quick.ipynb"):
        assert page.stat().st_mtime_ns <= int(mtime) + 10**10 and "quick" in page.read_text()
    assert "quick" in (course / "build" / "site" / "index.html").read_text()


def test_the_warm_worker_keeps_spare_processes_ready_for_the_next_build(tmp_path):
    course = course_with(tmp_path, {"a": {"pid": ("", "print(os.getpid())\n")}})
    env = {"LECTUREBUILD_WORKER_IDLE": "60"}
    try:
        assert doit(course, "jobs=2", env=env).returncode == 0
        spares = children_of(daemon_of(course))
        assert len(spares) == 2  # one per job slot, forked and waiting
        code = course / "snippets" / "a" / "pid.py"
        code.write_text(code.read_text() + "# edited\n")
        time.sleep(0.2)
        assert doit(course, "jobs=2", env=env).returncode == 0
        result = json.loads((course / "build" / "results" / "a" / "pid.json").read_text())
        assert int(result["runs"][0]["outputs"][0]["text"]) in spares  # it ran in a spare made before the build
    finally:
        for pid in [daemon_of(course)]:
            if pid:
                os.kill(pid, 15)


def daemon_of(course: Path) -> int:
    from lecturebuild.run import daemon

    path = str(daemon.socket_path(course / "build")).encode()
    found = {int(p.name): parent_of(int(p.name)) for p in Path("/proc").iterdir()
             if p.name.isdigit() and path in read(p / "cmdline")}
    return next((pid for pid, parent in found.items() if parent not in found), 0)


def children_of(pid: int) -> set[int]:
    return {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and parent_of(int(p.name)) == pid}


def parent_of(pid: int) -> int:
    text = read(Path("/proc", str(pid), "stat")).decode(errors="replace")
    return int(text.rsplit(")", 1)[1].split()[1]) if ")" in text else -1


def read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""
