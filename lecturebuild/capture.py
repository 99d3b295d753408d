"""Run snippet code and capture what a notebook would show. Used only inside a worker's child process.

Per snippet: stdout and stderr as separate streams in the order they were written, every matplotlib
figure (at `plt.show()` and at the end), the value of a final bare expression, the wall time, and an
exception with a traceback that points at the snippet file and line.
"""

from __future__ import annotations

import ast
import hashlib
import io
import linecache
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .model import Error, Figure, Output, Snippet, SnippetRun, Stream, Value

FIGURE_DPI = 200  # twice matplotlib's 100: figures stay sharp on high-density screens
MAX_VALUE_ITEMS = 10_000  # longest list a section may hand to the prose
MAX_VALUE_TEXT = 10_000  # longest string a section may hand to the prose


class OutputBudget:
    """How much printed output a section keeps for the rendered material (`limit` bytes of UTF-8).

    Past the limit the output is cut with a visible note, and everything the section printed, from
    the start, goes to `spill`, so nothing is lost and a runaway print loop cannot fill the memory."""

    def __init__(self, limit: int, spill: Path, shown: str = ""):
        self.limit, self.spill, self.used = limit, spill, 0
        self.shown = shown or str(spill)  # the spill file as the published note names it (relative to the course)
        self._kept: list[str] = []
        self._file = None

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
        self._file = open(self.spill, "w", encoding="utf-8", errors="replace")
        self._file.write("".join(self._kept) + text)
        self._kept.clear()
        return (f"{keep}\n[lecturebuild: output cut here, past {self.limit:,} bytes; "
                f"the full output is in {self.shown}]\n")

    def close(self) -> None:
        """Flush the full output to disk; the section's process ends with os._exit, which would not."""
        if self._file is not None:
            self._file.close()


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
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        length = len(text)
        if self._budget is not None:  # the section's own output (not a replay's)
            self._keep_in_log(text)
            text = self._budget.take(text)
        if text:
            last = self._outputs[-1] if self._outputs else None
            if isinstance(last, list) and last[0] == self.name:
                last[1].append(text)
            else:
                self._outputs.append([self.name, [text]])
        return length

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
        from .figures import describe

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
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.show = _show


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
                text = repr(value)
                outputs.append(Value(text=budget.take(text) if budget is not None else text))
    except BaseException as exc:  # the snippet's own failure, SystemExit included, is data
        sink.flush(outputs)
        outputs.append(_error(exc, snippet))
    else:
        sink.flush(outputs)
    finally:
        sys.stdout, sys.stderr = saved
        _running.pop()
    seconds = time.perf_counter() - started
    return SnippetRun(snippet=snippet.name, outputs=tuple(_freeze(outputs)), seconds=round(seconds, 6))


def _freeze(outputs: list) -> list[Output]:
    return [Stream(name=o[0], text="".join(o[1])) if isinstance(o, list) else o for o in outputs]


def _error(exc: BaseException, snippet: Snippet) -> Error:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = __file__
    while frames and frames[0].filename == ours:
        frames.pop(0)
    snippet_frames = [f for f in frames if f.filename.startswith("snippets/")]
    file, line = (snippet_frames[-1].filename, snippet_frames[-1].lineno) if snippet_frames else ("", 0)
    if isinstance(exc, SyntaxError) and exc.filename == snippet.file:
        file, line = snippet.file, exc.lineno or 0
    text = "".join(traceback.format_list(frames)) if frames else ""
    text = ("Traceback (most recent call last):\n" + text if text else "") + "".join(
        traceback.format_exception_only(type(exc), exc))
    expected = bool(snippet.raises) and snippet.raises in {c.__name__ for c in type(exc).__mro__}
    return Error(ename=type(exc).__name__, evalue=str(exc), traceback=text, file=file, line=line,
                 expected=expected)


def summarise(namespace: dict, before: dict[str, int]) -> dict[str, Any]:
    """The names a section defined or rebound, as plain data the prose can quote."""
    values = {}
    for name, obj in namespace.items():
        if name.startswith("_") or before.get(name) == id(obj):
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
            return {"__shape__": list(obj)}
        if isinstance(obj, torch.Tensor):
            info = {"shape": list(obj.shape), "dtype": str(obj.dtype).replace("torch.", ""), "device": obj.device.type}
            if obj.numel() == 1:
                info["item"] = _summary(obj.item())
            return {"__tensor__": info}
        if isinstance(obj, torch.nn.Module):
            params = list(obj.parameters())
            return {"__module__": {"cls": type(obj).__name__, "parameters": sum(p.numel() for p in params),
                                   "trainable": sum(p.numel() for p in params if p.requires_grad),
                                   "device": params[0].device.type if params else ""}}
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
