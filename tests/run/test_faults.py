"""Snippets that misbehave in ways a build must survive: limits, huge or odd output, declared files."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from conftest import as_if_the_worker_wrote, doit

from lecturebuild.course.load import load_course
from lecturebuild.run.execute import execute_lecture
from lecturebuild.store import Store


def make_course(root: Path, sections: dict[str, tuple[str, str]], front: str = "") -> Path:
    """sections: id -> (heading attributes and directive options, code)."""
    body = ""
    for sid, (extra, code) in sections.items():
        attributes, _, options = extra.partition("|")
        body += f"## {sid} {{#{sid}{attributes}}}\n```{{snippet}} {sid}.py\n{options}```\n"
        path = root / "snippets" / "odd" / f"{sid}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    (root / "lectures").mkdir(parents=True)
    (root / "lectures" / "odd.md").write_text(f"---\ntitle: Odd\norder: 1\nsummary: S\n{front}---\n{body}")
    return root


def run(root: Path) -> tuple[dict, str]:
    messages = io.StringIO()
    with contextlib.redirect_stderr(messages):
        execute_lecture(load_course(root).lectures[0], root / "build", "cpu", root=root)
    return Store(root / "build").results(load_course(root).lectures[0]), messages.getvalue()


def test_time_limits_per_lecture_and_per_section(tmp_path):
    sleep = "import time\ntime.sleep(30)\n"
    root = make_course(tmp_path, {"lecture_limit": ("", sleep), "own_limit": (" time_limit=1.5", sleep)},
                       front="time_limit: 2.5\n")
    results, messages = run(root)
    assert "ran past the time limit of 2.5 s" in results["lecture_limit"].failure
    assert "ran past the time limit of 1.5 s" in results["own_limit"].failure
    assert "section 'own_limit': it ran past the time limit of 1.5 s and was stopped" in messages


def test_memory_limit_stops_an_allocation_with_the_snippet_line(tmp_path):
    code = "import torch\nsmall = torch.ones(1000)\nbig = torch.ones(2_000_000_000)\n"
    root = make_course(tmp_path, {"hungry": (" memory_limit=300", code)})
    results, messages = run(root)
    error = results["hungry"].errors[0]
    assert (error.file, error.line) == ("snippets/odd/hungry.py", 3)
    assert "memory limit is 300 MB" in error.evalue
    assert "FAILED odd.md: section 'hungry': RuntimeError at snippets/odd/hungry.py:3" in messages


def test_huge_output_is_cut_with_a_note_and_kept_whole_in_a_log(tmp_path):
    code = "for i in range(20000):\n    print(f'line {i:05d} ' + 'x' * 40)\n"
    root = make_course(tmp_path, {"loud": ("", code)}, front="output_limit: 10000\n")
    results, _ = run(root)
    text = results["loud"].runs[0].outputs[0].text
    assert len(text.encode()) < 10_300 and text.startswith("line 00000")
    log = root / "build" / "logs" / "odd" / "loud.output.txt"
    assert "output cut here, past 10,000 bytes; the full output is in build/logs/odd/loud.output.txt" in text
    full = log.read_text().splitlines()
    assert len(full) == 20000 and full[-1].startswith("line 19999")


def test_bytes_control_characters_and_colours_render_safely(tmp_path):
    code = ("import sys\nsys.stdout.buffer.write(b'caf\\xc3\\xa9 \\xff\\xfe end\\n')\n"
            "print('\\x1b[31mred\\x1b[0m bell\\x07 done')\nprint('</code> --> ``` <script>x</script>')\n")
    root = make_course(tmp_path, {"odd": ("", code)})
    result = doit(root)
    assert result.returncode == 0, result.stderr
    handout = (root / "build" / "markdown" / "odd.md").read_text()
    assert "café \ufffd\ufffd end" in handout and "red bell\\x07 done" in handout and "\x1b" not in handout
    assert "````text\n" in handout  # a fence longer than the ``` inside the output
    page = (root / "build" / "html" / "odd.html").read_text()
    assert "&lt;/code&gt; --&gt; ``` &lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page


def test_files_a_snippet_declares_are_published_and_a_missing_one_fails(tmp_path):
    sections = {
        "writes": ("|:files: table.csv\n", "open('table.csv', 'w').write('a,b\\n1,2\\n')\nopen('tmp.txt', 'w')\n"),
        "forgets": ("|:files: model.pt\n", "print('nothing written')\n"),
    }
    root = make_course(tmp_path, sections)
    result = doit(root)
    assert result.returncode != 0
    assert "snippets/odd/forgets.py declares the file 'model.pt' (:files:) but did not write it" in result.stderr
    published = root / "build" / "results" / "odd" / "files" / "writes" / "table.csv"
    assert published.read_text() == "a,b\n1,2\n"
    assert not (root / "table.csv").exists() and not (root / "tmp.txt").exists()


def test_failed_lecture_keeps_its_previous_good_output(tmp_path):
    root = make_course(tmp_path, {"fine": ("", "print('version 1')\n")})
    assert doit(root).returncode == 0
    handout = root / "build" / "markdown" / "odd.md"
    assert "version 1" in handout.read_text()
    (root / "snippets" / "odd" / "fine.py").write_text("print('version 2')\nraise KeyError('broken')\n")
    result = doit(root)
    assert result.returncode != 0
    assert "version 1" in handout.read_text() and "version 2" not in handout.read_text()
    assert not list(handout.parent.glob(".*.tmp"))  # no half-written file left behind


def test_each_run_starts_in_a_clean_folder_so_a_file_no_longer_written_fails(tmp_path):
    code = ("import os\nprint('leftover seen:', os.path.exists('scratch.txt'))\nopen('scratch.txt', 'w')\n"
            "open('table.csv', 'w').write('a,b\\n')\n")
    root = make_course(tmp_path, {"table": ("|:files: table.csv\n", code)})
    assert doit(root).returncode == 0
    snippet = root / "snippets" / "odd" / "table.py"
    snippet.write_text(code.replace("open('table.csv', 'w').write('a,b\\n')\n", "print('no table now')\n"))
    result = doit(root)
    assert result.returncode != 0
    assert "snippets/odd/table.py declares the file 'table.csv' (:files:) but did not write it" in result.stderr
    log = (root / "build" / "results" / "odd" / "table.json").read_text()
    assert "leftover seen: False" in log  # the first run's scratch.txt was gone
    assert not (root / "build" / "results" / "odd" / "files" / "table" / "table.csv").exists()


def test_a_crash_or_a_timeout_keeps_what_the_section_printed_and_says_where_it_was(tmp_path):
    sections = {
        "crashes": ("", "print('step 1')\nprint('step 2')\nimport os\nos._exit(3)\n"),
        "hangs": (" time_limit=1.5", "print('waiting')\nimport time\ntime.sleep(30)\n"),
    }
    root = make_course(tmp_path, sections)
    result = doit(root)
    assert result.returncode != 0
    assert ("section 'crashes': its process exited with status 3 before the section finished (os._exit() or a crash "
            "in native code) (full output in build/logs/odd/crashes.log); the last lines it printed:\n"
            "    step 1\n    step 2") in result.stderr
    assert ("section 'hangs': it ran past the time limit of 1.5 s and was stopped, with every process it started, "
            "at snippets/odd/hangs.py:3 (full output in build/logs/odd/hangs.log); the last lines it printed:\n"
            "    waiting") in result.stderr
    assert "step 2" in (root / "build" / "logs" / "odd" / "crashes.log").read_text()


def test_a_file_standing_where_the_site_folder_should_be_is_named_and_the_rest_is_built(built_sample, tmp_path):
    import shutil

    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    shutil.rmtree(course / "build" / "site")
    (course / "build" / "site").write_text("not a folder")
    source = course / "lectures" / "01_basics.md"
    source.write_text(source.read_text().replace("Nothing runs here", "Nothing at all runs here"))
    result = doit(course)
    assert result.returncode != 0
    assert "lecturebuild: build/site/" in result.stderr and "a file stands where a folder should be" in result.stderr
    assert "Traceback" not in result.stderr and "PythonAction Error" not in result.stderr
    assert "Nothing at all runs here" in (course / "build" / "markdown" / "01_basics.md").read_text()


def test_build_deleted_while_it_runs_is_explained_and_the_next_build_recovers(tmp_path):
    root = make_course(tmp_path, {"deletes": ("", "import os, shutil\nshutil.rmtree(os.path.abspath('../../..'))\n")})
    result = doit(root)
    assert result.returncode != 0
    assert "doit could not save its record of what was built (build/.doit.db" in result.stderr
    assert "Traceback" not in result.stderr
    (root / "snippets" / "odd" / "deletes.py").write_text("print('fine now')\n")
    result = doit(root)
    assert result.returncode == 0, result.stderr
    assert "fine now" in (root / "build" / "markdown" / "odd.md").read_text()


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "8m"):
    """A tmpfs of `size` mounted at `folder`, to fill up: a full disk without filling the machine's."""
    import subprocess

    import pytest

    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"mounting a small tmpfs needs root: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


def test_a_full_disk_is_named_as_such_and_never_blamed_on_the_snippet(tmp_path):
    root = make_course(tmp_path, {"plots": ("", "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n"
                                               "print('version 1')\n")})
    with small_disk(root / "build"):
        assert doit(root).returncode == 0
        handout = root / "build" / "markdown" / "odd.md"
        before = handout.read_text()
        fill(root / "build")
        snippet = root / "snippets" / "odd" / "plots.py"
        snippet.write_text(snippet.read_text().replace("version 1", "version 2"))
        result = doit(root)
        assert result.returncode != 0
        assert "the disk is full" in result.stderr
        assert "os._exit() or a crash in native code" not in result.stderr and "Traceback" not in result.stderr
        assert handout.read_text() == before

        source = root / "lectures" / "odd.md"  # a prose edit: nothing runs, and rendering cannot write
        (root / "build" / "filler").unlink()
        assert doit(root).returncode == 0
        rebuilt = handout.read_text()
        fill(root / "build")
        source.write_text(source.read_text() + "\nMore prose.\n")
        result = doit(root, "markdown")
        assert result.returncode != 0
        assert "No space left on device (the disk is full: free some space and run doit again)" in result.stderr
        assert "Traceback" not in result.stderr and handout.read_text() == rebuilt


def test_a_failure_of_lecturebuilds_own_code_is_called_a_bug_with_its_traceback_in_a_log(built_sample, tmp_path):
    import json
    import shutil

    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    path = course / "build" / "results" / "02_plots" / "figure.json"
    result = json.loads(path.read_text())  # a stored result our renderer cannot handle: a figure without a size
    figure = next(o for o in result["runs"][0]["outputs"] if o["kind"] == "figure")
    figure["width"] = "wide"
    path.write_text(json.dumps(result))
    as_if_the_worker_wrote(course, "02_plots", "figure")
    result = doit(course, "notebook")
    assert result.returncode != 0
    assert ("lecturebuild: internal error in render_action (a bug in lecturebuild, not in your course): TypeError: "
            "unsupported operand type(s) for //: 'str' and 'int'; the traceback is in build/logs/internal-errors.log"
            ) in result.stderr
    assert "Traceback" not in result.stderr
    assert "in _code_cell" in (course / "build" / "logs" / "internal-errors.log").read_text()


# ----------------------------------------------------------------------------------------------
# The trust model: snippets run with the user's rights; the build's own files are not taken from them


def test_a_result_forged_by_another_sections_code_is_never_used(tmp_path):
    forge = ("import json, pathlib\npath = pathlib.Path('../../../results/odd/first.json')\n"
             "result = json.loads(path.read_text())\nresult['runs'][0]['outputs'][0]['text'] = 'forged\\n'\n"
             "path.write_text(json.dumps(result))\n")
    root = make_course(tmp_path, {"first": ("", "print('honest')\n"), "second": ("", forge)})
    result = doit(root, "jobs=1")  # first runs, then second rewrites first's stored result
    assert result.returncode != 0
    assert ("FAILED odd.md: section 'first': its stored result was changed while the build ran, by code of a "
            "section") in result.stderr
    handout = root / "build" / "markdown" / "odd.md"
    assert not handout.exists()
    result = doit(root, "jobs=1")
    assert result.returncode == 0, result.stderr
    assert "odd/first: runs (not run before)" in result.stderr and "odd/second: runs" not in result.stderr
    assert "```text\nhonest" in handout.read_text() and "```text\nforged" not in handout.read_text()

    (root / "build" / "results" / "odd" / "first.json").write_text(
        (root / "build" / "results" / "odd" / "first.json").read_text().replace("honest", "edited"))
    result = doit(root, "jobs=1", "execute")  # changed between builds: run again, never trusted
    assert "odd/first: runs (its stored result was not written by the worker" in result.stderr


def test_a_section_that_writes_into_the_course_fails_and_says_what_it_wrote(tmp_path):
    code = "open('../../../../lectures/99_pwned.md', 'w').write('---\\ntitle: x\\n---\\n')\n"
    root = make_course(tmp_path, {"writer": ("", code)})
    result = doit(root)
    assert result.returncode != 0
    assert ("section 'writer': it wrote lectures/99_pwned.md, in the course itself; a section may write only in "
            "its working folder") in result.stderr


def test_processes_a_section_started_in_a_session_of_their_own_end_with_it(tmp_path):
    code = ("import subprocess, sys\nchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
            " start_new_session=True)\nprint('started', child.pid)\n")
    root = make_course(tmp_path, {"spawns": ("", code)})
    result = doit(root)
    assert result.returncode == 0, result.stderr
    import re
    import time

    pid = int(re.search(r"started (\d+)", (root / "build" / "markdown" / "odd.md").read_text()).group(1))
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "a process the section started outlived it"
