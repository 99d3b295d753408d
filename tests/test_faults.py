"""Snippets that misbehave in ways a build must survive: limits, huge or odd output, declared files."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path


from conftest import doit
from lecturebuild.course import load_course
from lecturebuild.execute import execute_lecture, load_results
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
    return load_results(Store(root / "build"), load_course(root).lectures[0]), messages.getvalue()


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
    assert f"output cut here, past 10,000 bytes; the full output is in {log}" in text
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
