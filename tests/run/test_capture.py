"""What one snippet's run captures: streams in order, figures, the final value, errors with lines."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

from lecturebuild.model import Error, Figure, Snippet, Stream, Value
from lecturebuild.run import capture


def snippet(code: str, raises: str = "") -> Snippet:
    return Snippet(name="s.py", file="snippets/lec/s.py", path=Path("/nowhere/s.py"), code=code, line=1, raises=raises)


def run(code: str, tmp_path: Path | None = None, namespace: dict | None = None, raises: str = ""):
    sink = capture.FigureSink(tmp_path)
    ns = namespace if namespace is not None else {"__name__": "__main__", "__builtins__": builtins}
    return capture.run_snippet(snippet(code, raises), ns, sink)


def test_stdout_and_stderr_are_separate_streams_in_order():
    result = run("import sys\nprint('a')\nprint('b')\nprint('oops', file=sys.stderr)\nprint('c')\n")
    assert result.outputs == (Stream("stdout", "a\nb\n"), Stream("stderr", "oops\n"), Stream("stdout", "c\n"))


def test_final_bare_expression_is_shown_like_a_notebook_and_none_is_not():
    assert run("x = 2\nx * 21").outputs == (Value("42"),)
    assert run("print('hi')\nNone").outputs == (Stream("stdout", "hi\n"),)
    assert run("x = 2\nx * 21;").outputs == ()  # a trailing ';' hides it, as in a notebook


def test_exception_points_at_the_snippet_file_and_line():
    result = run("x = 1\n\ndef f():\n    return 1 / 0\n\nf()\n")
    (error,) = result.outputs
    assert isinstance(error, Error) and error.ename == "ZeroDivisionError" and not error.expected
    assert (error.file, error.line) == ("snippets/lec/s.py", 4)
    assert 'File "snippets/lec/s.py", line 4, in f' in error.traceback
    assert "    return 1 / 0" in error.traceback  # the source line is shown
    assert "capture.py" not in error.traceback  # our own frames are not


def test_syntax_error_is_located():
    (error,) = run("x = 1\ny = (\n").outputs
    assert error.ename == "SyntaxError" and (error.file, error.line) == ("snippets/lec/s.py", 2)


def test_expected_exception_matches_by_class_or_base_class():
    assert run("raise KeyError('k')", raises="LookupError").outputs[0].expected
    assert not run("raise KeyError('k')", raises="ValueError").outputs[0].expected


def test_sys_exit_is_captured_not_fatal():
    (error,) = run("import sys\nsys.exit(3)").outputs
    assert error.ename == "SystemExit" and error.evalue == "3"


def test_output_before_an_exception_is_kept():
    outputs = run("print('before')\nraise ValueError('bad')").outputs
    assert outputs[0] == Stream("stdout", "before\n") and outputs[1].ename == "ValueError"


def test_figures_are_saved_as_png_at_show_and_at_the_end(tmp_path):
    code = (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "plt.plot([1, 2]); plt.title('first')\nplt.show()\nprint('between')\n"
        "plt.figure(); plt.plot([3, 1]); plt.suptitle('second');\n"
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    capture.install_show()
    outputs = run(code, tmp_path).outputs
    assert [type(o) for o in outputs] == [Figure, Stream, Figure]
    assert [o.alt for o in outputs if isinstance(o, Figure)] == ["first", "second"]
    for figure in (outputs[0], outputs[2]):
        data = (tmp_path / figure.file).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert figure.width > 600 and figure.height > 400  # 200 dpi: sharp on high-density screens
    assert plt.get_fignums() == []  # every figure is closed after capture


def test_summarise_keeps_only_names_the_section_defined():
    torch = pytest.importorskip("torch")
    ns = {"__builtins__": builtins, "old": 1, "torch": torch}
    before = dict(ns)
    run("import torch.nn as nn\nn = 5\nf = 0.5\nshape = torch.zeros(2, 3).shape\nt = torch.ones(1)\n"
        "m = nn.Linear(3, 2)\nlosses = [1.0, 0.5]\ncounts = {'a': 1}\n_hidden = 1\ndef fn(): pass\n", namespace=ns)
    values = capture.summarise(ns, before)
    assert values == {
        "n": 5, "f": 0.5, "shape": {"__shape__": [2, 3]},
        "t": {"__tensor__": {"shape": [1], "dtype": "float32", "device": "cpu", "item": 1.0}},
        "m": {"__module__": {"cls": "Linear", "parameters": 8, "trainable": 8, "device": "cpu"}},
        "losses": [1.0, 0.5], "counts": {"a": 1},
    }


def test_clear_output_drops_what_the_snippet_printed_before_as_jupyter_does(sample_course):
    from conftest import doit

    source = sample_course / "lectures" / "01_basics.md"
    source.write_text(source.read_text() + "\n## Training with a live report {#live}\n```{snippet} live.py\n```\n"
                      "\n## Only the last report {#last}\n```{snippet} last.py\n```\n")
    (sample_course / "snippets" / "01_basics" / "last.py").write_text(
        "from IPython.display import clear_output\nfor step in range(1, 4):\n    clear_output(wait=True)\n"
        "    print(f'report {step}')\nprint('finished')\n")
    (sample_course / "snippets" / "01_basics" / "live.py").write_text(
        "from IPython.display import clear_output\n"
        "for step in range(1, 2000):\n"
        "    clear_output(wait=True)\n"
        "    print(f'step {step}: loss {1 / step:.4f}')\n"
        "print('finished')\n"
        "clear_output()\n"
        "print('only this stays')\n")
    assert doit(sample_course).returncode == 0
    handout = (sample_course / "build" / "markdown" / "01_basics.md").read_text()
    live = handout[handout.index("Training with a live report"):]
    printed = live[live.index("```text\n") + 8:]
    assert printed.startswith("only this stays\n```")  # what was printed before each clear is gone
    last = live[live.index("Only the last report"):]
    assert last[last.index("```text\n") + 8:].startswith("report 3\nfinished\n```")  # wait=True: at the next print
    log = (sample_course / "build" / "logs" / "01_basics" / "live.log").read_text()
    assert "step 1999: loss 0.0005" in log  # the log keeps all of it


def test_a_dotted_raises_matches_and_a_wrong_one_says_what_was_expected(sample_course):
    from conftest import doit

    source = sample_course / "lectures" / "01_basics.md"
    source.write_text(source.read_text() + "\n## Bad JSON {#bad_json}\n```{snippet} bad_json.py\n:raises: json.JSONDecodeError\n```\n"
                      "\n## Wrong error {#wrong}\n```{snippet} wrong.py\n:raises: KeyError\n```\n")
    (sample_course / "snippets" / "01_basics" / "bad_json.py").write_text("import json\njson.loads('{')\n")
    (sample_course / "snippets" / "01_basics" / "wrong.py").write_text("[][1]\n")
    result = doit(sample_course)
    assert "section 'bad_json'" not in result.stderr  # the dotted name matched
    assert "FAILED 01_basics.md: section 'wrong': IndexError at snippets/01_basics/wrong.py:1" in result.stderr
    assert "(its snippet is marked `:raises: KeyError`, which it did not raise)" in result.stderr
