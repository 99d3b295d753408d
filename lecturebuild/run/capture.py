"""Run snippet code and capture what a notebook would show. Used only inside a worker's child process.

Per snippet: stdout and stderr as separate streams in the order they were written, every matplotlib
figure (at `plt.show()` and at the end), the value of a final bare expression (shown as IPython shows
it), the wall time, and an exception with a traceback that points at the snippet file and line.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import linecache
import os
import sys
import sysconfig
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

# How a notebook shows a value (IPython's plain-text display); imported with this module, which the
# worker imports once before forking its sections.
from IPython.lib.pretty import pretty

from lecturebuild.model import Error, Figure, ModuleInfo, Output, Shape, Snippet, SnippetRun, Stream, TensorInfo, Value

FIGURE_DPI = 200  # twice matplotlib's 100: figures stay sharp on high-density screens
MAX_VALUE_ITEMS = 10_000  # longest list a section may hand to the prose
MAX_VALUE_TEXT = 10_000  # longest string a section may hand to the prose
CUT_NOTE = "[lecturebuild: output cut here, past"
MAX_WHOLE_OUTPUT = 64 * 2**20  # the most full output (bytes) read back to compare a cut section
MAX_OUTPUTS = 10_000  # past the output limit, the most outputs a snippet tracks (streams taking turns)


class OutputBudget:
    """How much printed output a section keeps for the rendered material (`limit` bytes of UTF-8).

    Past the limit the output is cut with a visible note, and everything the section printed, from
    the start, goes to `spill`, so nothing is lost and a runaway print loop cannot fill the memory.
    Beside it, `layout_path(spill)` records which snippet and output each stretch of it belongs to, so
    the whole outputs can be compared with what an imported source showed (`uncut_runs`)."""

    def __init__(self, limit: int, spill: Path, shown: str = ""):
        self.limit, self.spill, self.used = limit, spill, 0
        self.shown = shown or str(spill)  # the spill file as the published note names it (relative to the course)
        self._kept: list[str] = []
        self._file = None
        self._layout: list = []  # [snippet, [[stream or "value", characters] or None for any other output]]
        self.whole = True  # whether the layout accounts for all of the full output

    def take(self, text: str) -> str:
        """The part of `text` to keep in the rendered output."""
        if self._file is not None:
            self._file.write(text)
            return ""
        size = len(text.encode("utf-8", "replace"))
        if not self.limit or self.used + size <= self.limit:
            self.used += size
            self._kept.append(text)
            return text
        keep = text.encode("utf-8", "replace")[: self.limit - self.used].decode("utf-8", "ignore")
        self.spill.parent.mkdir(parents=True, exist_ok=True)
        layout_path(self.spill).unlink(missing_ok=True)  # an earlier run's; close() writes this run's
        self._file = open(self.spill, "w", encoding="utf-8", errors="replace", newline="")
        self._file.write("".join(self._kept) + text)
        self._kept.clear()
        return (f"{keep}\n{CUT_NOTE} {self.limit:,} bytes; the full output is in {self.shown}]\n")

    def cleared(self) -> None:
        """The snippet cleared its output (clear_output): what it prints next counts from nothing again, while
        the full output (past the limit) keeps all of it, no longer divided by outputs."""
        if self._file is None:
            self.used = 0
            self._kept.clear()
        self.whole = False

    def record(self, snippet: str, outputs: list) -> None:
        """Note how a finished snippet's outputs (as run_snippet holds them) divide the full output."""
        self._layout.append([snippet, [[o[0], o[2]] if isinstance(o, list) else None for o in outputs]])

    def close(self) -> None:
        """Flush the full output to disk; the section's process ends with os._exit, which would not."""
        if self._file is not None:
            self._file.close()
            if self.whole:
                layout_path(self.spill).write_text(json.dumps(self._layout), encoding="utf-8")


def layout_path(spill: Path) -> Path:
    """build/logs/<lecture>/<section>.output.json beside the full output <section>.output.txt."""
    return spill.with_suffix(".json")


def uncut_runs(runs: tuple[SnippetRun, ...], spill: Path) -> tuple[SnippetRun, ...] | None:
    """A cut section's runs with their printed outputs and values whole again, read back from the full
    output; None when it is not there, was written by another run or is past MAX_WHOLE_OUTPUT."""
    try:
        if spill.stat().st_size > MAX_WHOLE_OUTPUT:
            return None
        layout = json.loads(layout_path(spill).read_text(encoding="utf-8"))
        with open(spill, encoding="utf-8", errors="replace", newline="") as handle:
            text = handle.read()
    except (OSError, ValueError):
        return None
    sizes = [slot[1] for _, slots in layout for slot in slots if slot]
    if [name for name, _ in layout] != [run.snippet for run in runs] or sum(sizes) != len(text):
        return None
    whole, start = [], 0
    for run, (_, slots) in zip(runs, layout):
        others = [o for o in run.outputs if not isinstance(o, (Stream, Value))]  # figures, errors, files
        outputs = []
        for slot in slots:
            if slot is None:
                if others:
                    outputs.append(others.pop(0))
                continue
            kind, size = slot
            piece, start = text[start:start + size], start + size
            if kind == "value":
                outputs.append(Value(text=piece))
            elif piece:
                outputs.append(Stream(name=kind, text=piece))
        whole.append(replace(run, outputs=tuple(outputs + others)))
    return tuple(whole)


class _BytesCapture:
    """sys.stdout.buffer: bytes are decoded as UTF-8, and what is not UTF-8 is shown as U+FFFD."""

    def __init__(self, text: "_StreamCapture"):
        self._text = text

    def write(self, data) -> int:
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        pass


class _StreamCapture(io.TextIOBase):
    """Stands in for sys.stdout / sys.stderr; appends to a shared, ordered list of outputs."""

    def __init__(self, name: str, outputs: list, fd: int, budget: OutputBudget | None = None):
        self.name, self._outputs, self._fd, self._budget = name, outputs, fd, budget
        self.buffer = _BytesCapture(self)

    def write(self, text: str) -> int:
        """Text goes to the last output while it is of this stream, else to a new one: [name, [kept
        texts], characters written], the text past the output limit counted but not kept."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        _before_output(self._outputs)
        kept = text
        if self._budget is not None:  # the section's own output (not a replay's)
            self._keep_in_log(text)
            kept = self._budget.take(text)
        last = self._outputs[-1] if self._outputs else None
        if not (isinstance(last, list) and last[0] == self.name):
            if not kept and len(self._outputs) >= MAX_OUTPUTS:  # stop tracking what is past the limit
                self._budget.whole = False
                return len(text)
            last = [self.name, [], 0]
            self._outputs.append(last)
        last[1].append(kept)
        last[2] += len(text)
        return len(text)

    def _keep_in_log(self, text: str) -> None:
        """Copy to the section's log as it is printed: a crash or a time limit then loses none of it."""
        try:
            os.write(self._fd, text.encode("utf-8", "replace"))
        except OSError:
            pass  # the log is a copy; a full disk shows up where the result is written

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:  # C-level writers (faulthandler, subprocess) get the section's log file
        return self._fd

    @property
    def encoding(self) -> str:
        return "utf-8"


class FigureSink:
    """Saves open matplotlib figures as PNG files named by their content, then closes them."""

    def __init__(self, figures_dir: Path | None):
        self.figures_dir = figures_dir  # None: close figures without saving (replayed sections)

    def flush(self, outputs: list) -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return
        for number in pyplot.get_fignums():
            figure = pyplot.figure(number)
            if self.figures_dir is not None:
                _before_output(outputs)
                outputs.append(self._save(figure))
            pyplot.close(figure)

    def _save(self, figure) -> Figure:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight", metadata={"Software": None})
        data = buffer.getvalue()
        name = hashlib.sha256(data).hexdigest()[:20] + ".png"
        path = self.figures_dir / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        from lecturebuild.run.figures import describe

        return Figure(file=name, width=width, height=height, alt=_figure_title(figure), data=describe(figure))


def _figure_title(figure) -> str:
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        return suptitle.get_text()
    titles = [ax.get_title() for ax in figure.get_axes() if ax.get_title()]
    return "; ".join(titles) or "figure"


# The snippet running now (this module lives in a child process that runs one section at a time).
_running: list = []


def _show(*args, **kwargs) -> None:
    """plt.show(): emit the open figures at this point of the output, as a notebook does."""
    if _running:
        sink, outputs = _running[-1]
        sink.flush(outputs)


def install_show() -> None:
    """plt.show() and IPython's clear_output() as a notebook has them."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.show = _show
    try:
        import IPython.display
        from IPython.core import display_functions
    except ImportError:
        return
    IPython.display.clear_output = display_functions.clear_output = clear_output


_clear_pending: list = []  # a clear_output(wait=True) waiting for the next output


def clear_output(wait: bool = False) -> None:
    """IPython.display.clear_output, as Jupyter honours it: the snippet's outputs so far are dropped, at once
    or, with `wait`, when the next output comes (a training loop then shows only its last report)."""
    if not _running:
        return
    if wait:
        _clear_pending[:] = [True]
    else:
        _clear(_running[-1][1])


def _clear(outputs: list) -> None:
    _clear_pending.clear()
    outputs.clear()
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, _StreamCapture) and stream._budget is not None:
            stream._budget.cleared()


def _before_output(outputs: list) -> None:
    if _clear_pending:
        _clear(outputs)


def run_snippet(snippet: Snippet, namespace: dict, sink: FigureSink, budget: OutputBudget | None = None) -> SnippetRun:
    """Execute one snippet in `namespace`; never raises for anything the snippet does."""
    outputs: list = []
    _running.append((sink, outputs))
    linecache.cache[snippet.file] = (len(snippet.code), None, snippet.code.splitlines(True), snippet.file)
    started = time.perf_counter()
    saved = sys.stdout, sys.stderr
    sys.stdout = _StreamCapture("stdout", outputs, 1, budget)
    sys.stderr = _StreamCapture("stderr", outputs, 2, budget)
    try:
        tree = ast.parse(snippet.code, snippet.file)
        last = None
        # A final bare expression is shown, unless the code ends with ';' (the notebook convention).
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not snippet.code.rstrip().endswith(";"):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, snippet.file, "exec"), namespace)
        if last is not None:
            value = eval(compile(last, snippet.file, "eval"), namespace)
            if value is not None:
                text = pretty(value)  # `<SubBackward0 at 0x...>`, sets sorted, long lists one item a line
                _before_output(outputs)
                outputs.append(["value", [budget.take(text) if budget is not None else text], len(text)])
    except BaseException as exc:  # the snippet's own failure, SystemExit included, is data
        sink.flush(outputs)
        _before_output(outputs)
        outputs.append(_error(exc, snippet))
    else:
        sink.flush(outputs)
    finally:
        sys.stdout, sys.stderr = saved
        _running.pop()
        _clear_pending.clear()  # a clear that nothing followed: the output stays, as in Jupyter
        if budget is not None:
            budget.record(snippet.name, outputs)
    seconds = time.perf_counter() - started
    return SnippetRun(snippet=snippet.name, outputs=tuple(_freeze(outputs)), seconds=round(seconds, 6))


def _freeze(outputs: list) -> list[Output]:
    """Outputs as results hold them; a stream whose text was all past the output limit is left out."""
    frozen = []
    for output in outputs:
        if isinstance(output, list):
            name, text = output[0], "".join(output[1])
            output = Value(text=text) if name == "value" else Stream(name=name, text=text) if text else None
        if output is not None:
            frozen.append(output)
    return frozen


def _error(exc: BaseException, snippet: Snippet) -> Error:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = __file__
    while frames and frames[0].filename == ours:
        frames.pop(0)
    snippet_frames = [f for f in frames if f.filename.startswith("snippets/")]
    file, line = (snippet_frames[-1].filename, snippet_frames[-1].lineno) if snippet_frames else ("", 0)
    if isinstance(exc, SyntaxError) and exc.filename == snippet.file:
        file, line = snippet.file, exc.lineno or 0
    text = _readable(frames, _course_root(snippet)) if frames else ""
    text = ("Traceback (most recent call last):\n" + text if text else "") + "".join(
        traceback.format_exception_only(type(exc), exc))
    expected = bool(snippet.raises) and raises_match(snippet.raises, type(exc))
    return Error(ename=type(exc).__name__, evalue=str(exc), traceback=text, file=file, line=line,
                 expected=expected)


def _course_root(snippet: Snippet) -> str:
    """The course folder, with a trailing separator: the snippet's path less its course-relative name."""
    path = str(snippet.path)
    return path[: -len(snippet.file)] if snippet.file and path.endswith(snippet.file) else ""


# Where installed code lives, longest first: a frame there is shown relative to it, never as this machine's path.
_INSTALLED = sorted({(sysconfig.get_paths()[key].rstrip(os.sep) + os.sep, label)
                     for key, label in (("purelib", "site-packages/"), ("platlib", "site-packages/"),
                                        ("stdlib", "python/"), ("platstdlib", "python/"))},
                    key=lambda entry: -len(entry[0]))


def _readable(frames: list, root: str) -> str:
    """A traceback's frames as a page shows them: the course's files by their path in the course, installed
    code by its path in site-packages (or Python's library), never the build machine's folders; and of each
    run of frames inside installed code only the innermost, where it raised, after a line counting the rest."""
    lines, run = [], []

    def flush() -> None:
        if len(run) > 1:
            lines.append(f"  ... {len(run) - 1} more frame{'s' * (len(run) > 2)} in installed code ...\n")
        lines.extend(traceback.format_list(run[-1:]))
        run.clear()

    for frame in frames:
        name, installed = frame.filename, False
        if root and name.startswith(root):
            name = name[len(root):]
        else:
            for prefix, label in _INSTALLED:
                if name.startswith(prefix):
                    name, installed = label + name[len(prefix):], True
                    break
        where = {key: getattr(frame, key) for key in ("end_lineno", "colno", "end_colno") if hasattr(frame, key)}
        line = linecache.getline(frame.filename, frame.lineno) or frame.line  # as written, so that carets align
        frame = traceback.FrameSummary(name, frame.lineno, frame.name, line=line, **where)  # 3.11: its carets
        if installed:
            run.append(frame)
        else:
            flush()
            lines.extend(traceback.format_list([frame]))
    flush()
    return "".join(lines)


def raises_match(name: str, cls: type) -> bool:
    """Whether `:raises: name` names `cls` or a class it derives from, by its name or dotted as the code
    imports it (`JSONDecodeError`, `json.JSONDecodeError`, `torch.cuda.OutOfMemoryError`)."""
    last = name.rsplit(".", 1)[-1]
    return any(c.__name__ == last for c in cls.__mro__)


def summarise(namespace: dict, before: dict[str, Any]) -> dict[str, Any]:
    """The names a section defined or rebound, as plain data the prose can quote. `before` holds the
    objects themselves, not their ids: a freed object's id is reused by the next one made."""
    values = {}
    for name, obj in namespace.items():
        if name.startswith("_") or (name in before and before[name] is obj):
            continue
        summary = _summary(obj)
        if summary is not None:
            values[name] = summary
    return values


def _summary(obj: Any, depth: int = 0) -> Any:
    if obj is None or isinstance(obj, (bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else str(obj)
    if isinstance(obj, str):
        return obj if len(obj) <= MAX_VALUE_TEXT else None
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(obj, torch.Size):
            return Shape(obj).to_data()
        if isinstance(obj, torch.Tensor):
            return TensorInfo(list(obj.shape), str(obj.dtype).replace("torch.", ""), obj.device.type,
                              _summary(obj.item()) if obj.numel() == 1 else None).to_data()
        if isinstance(obj, torch.nn.Module):
            params = list(obj.parameters())
            return ModuleInfo(type(obj).__name__, sum(p.numel() for p in params),
                              sum(p.numel() for p in params if p.requires_grad),
                              params[0].device.type if params else "").to_data()
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(obj, numpy.generic):
        return _summary(obj.item(), depth)
    if depth < 3 and isinstance(obj, (list, tuple)) and len(obj) <= MAX_VALUE_ITEMS:
        items = [_summary(v, depth + 1) for v in obj]
        return items if all(i is not None or v is None for i, v in zip(items, obj)) else None
    if depth < 3 and isinstance(obj, dict) and len(obj) <= MAX_VALUE_ITEMS and all(isinstance(k, str) for k in obj):
        items = {k: _summary(v, depth + 1) for k, v in obj.items()}
        return items if all(items[k] is not None or obj[k] is None for k in obj) else None
    return None
