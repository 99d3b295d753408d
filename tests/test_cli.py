"""The `lecturebuild` command: `serve` (a real server process that rebuilds when a lecture is saved), `new`, and what a build records of lecturebuild itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import REPO


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def wait_for(predicate, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_previews_the_site_and_rebuilds_on_save(built_sample, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    process = subprocess.Popen([sys.executable, "-m", "lecturebuild", "serve", "--course", str(course), "--port", "0"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        url = None
        for line in process.stdout:
            match = re.search(r"serving (http://\S+/)", line)
            if match:
                url = match.group(1)
                break
        assert url, "the server never said where it serves"
        threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe drained
        assert "Sample course" in fetch(url + "index.html")
        state = json.loads(fetch(url + "__lecturebuild__/build"))
        assert state == {"build": 1, "ok": True}

        lecture = course / "lectures" / "01_basics.md"
        lecture.write_text(lecture.read_text().replace("Nothing runs here", "Nothing at all runs here"))
        # The counter moves when the whole build has finished, after the page was written.
        wait_for(lambda: json.loads(fetch(url + "__lecturebuild__/build"))["build"] == 2, what="the rebuild")
        assert "Nothing at all runs here" in fetch(url + "01_basics.html")

        # DNS rebinding: another site's name pointed at this machine is refused; localhost is served.
        port = url.rstrip("/").rsplit(":", 1)[1]
        with pytest.raises(urllib.error.HTTPError, match="403"):
            fetch_with_host(url + "index.html", f"evil.example:{port}")
        assert "Sample course" in fetch_with_host(url + "index.html", f"localhost:{port}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def fetch_with_host(url: str, host: str) -> str:
    request = urllib.request.Request(url, headers={"Host": host})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def test_serve_refuses_a_folder_that_is_not_a_course(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lecturebuild", "serve", "--course", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a course" in result.stderr


def lecturebuild(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lecturebuild", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_new_refuses_a_folder_that_is_not_empty_and_with_force_keeps_what_is_there(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "course.yml").write_text("title: Mine\ndescription: My own words.\n")
    refused = lecturebuild("new", "notes", cwd=tmp_path)
    assert refused.returncode == 2 and "notes is not empty (course.yml)" in refused.stderr and "--force" in refused.stderr
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["course.yml"]  # nothing written
    forced = lecturebuild("new", "notes", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "notes" / "course.yml").read_text() == "title: Mine\ndescription: My own words.\n"
    assert (tmp_path / "notes" / "lectures" / "01_first_steps.md").is_file()
    assert (tmp_path / "notes" / "dodo.py").read_text().count("\n") <= 5  # a few lines: every task is the package's
    (tmp_path / "a file").write_text("")
    assert "is a file, not a folder" in lecturebuild("new", "a file", cwd=tmp_path).stderr
    unmade = lecturebuild("new", "/proc/no-course-here", cwd=tmp_path)  # a folder that cannot be made
    assert unmade.returncode == 2 and unmade.stderr.startswith("lecturebuild: could not make the course in")
    assert "Traceback" not in unmade.stderr
    assert lecturebuild("new", "", cwd=tmp_path).stderr == "lecturebuild: say which folder to make: lecturebuild new PATH\n"


def test_a_course_named_with_yaml_syntax_still_gets_a_valid_course_yml(tmp_path):
    made = lecturebuild("new", "deep: learning #1", cwd=tmp_path)
    assert made.returncode == 0 and "cd 'deep: learning #1' && doit" in made.stdout  # a line to paste as it is
    from lecturebuild.course.load import load_course

    assert load_course(tmp_path / "deep: learning #1").title == "Deep: learning #1"


def test_each_result_records_the_lecturebuild_that_ran_it_with_the_commit_of_this_checkout(built_sample):
    import lecturebuild

    course, _ = built_sample
    result = json.loads((course / "build" / "results" / "01_basics" / "tensors.json").read_text())
    assert result["device"]["lecturebuild"] == lecturebuild.__version__
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    expected = head.stdout.strip() if head.returncode == 0 and (REPO / ".git").exists() else ""
    assert result["device"]["commit"] == expected
    footer = f"Built with lecturebuild {lecturebuild.__version__}" + (f" (commit {expected[:12]})" if expected else "")
    assert footer in (course / "build" / "site" / "index.html").read_text()


def test_a_bad_jobs_value_or_a_missing_course_folder_is_one_line_not_a_traceback(tmp_path):
    from conftest import SAMPLE

    course = tmp_path / "course"
    shutil.copytree(SAMPLE, course)
    for args, said in ((["jobs=abc"], "lecturebuild: jobs='abc': say how many sections run at once"),
                       ([f"course={tmp_path / 'nowhere'}"], "no such folder")):
        result = subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), *args], cwd=course,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
