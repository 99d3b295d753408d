"""The core types. All immutable; every stage takes one of these and returns the next.

Course side (what the instructor wrote):  Course > Lecture > Section > Prose | Snippet
Run side (what a real run produced):      SectionResult > SnippetRun > Output, plus Device

Results cross a process boundary (the worker writes them, the build reads them) and live on disk
as JSON, so each run-side type converts to and from plain data with `to_data` / `from_data`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Union

# ----------------------------------------------------------------------------------------------
# What the instructor wrote


# A number the prose takes from outside the run (LeNet-5 has {fact}`61,706` parameters): shown as written,
# and not checked against the outputs.
FACT = re.compile(r"\{fact\}`([^`\n]+)`")


@dataclass(frozen=True)
class Prose:
    """Markdown text; may quote run values as Jinja expressions such as ``{{ classifier.params }}``."""

    text: str
    line: int  # first line of the text in the lecture source
    slide: bool = False  # a {slide} block: shown on its section's slide, never in the handout or page


@dataclass(frozen=True)
class Snippet:
    """A Python file under snippets/<lecture>/, placed in a section by a ``{snippet}`` directive."""

    name: str  # path relative to snippets/<lecture>/, e.g. "rnn_basics.py"
    file: str  # path relative to the course root, as messages and tracebacks show it
    path: Path  # absolute path of the file
    code: str
    line: int  # line of the directive in the lecture source (the front matter's for a setup snippet)
    raises: str = ""  # exception class name the snippet is expected to raise ("" = must not raise)
    files: tuple[str, ...] = ()  # files the snippet writes for the lecture, published with its output


@dataclass(frozen=True)
class Limits:
    """What a section may use; 0 means "not set here": a section inherits its lecture's, a lecture the build's."""

    time: float = 0.0  # seconds
    memory: int = 0  # megabytes beyond what the worker already holds
    output: int = 0  # bytes of printed output kept in the rendered material

    def over(self, fallback: "Limits") -> "Limits":
        return Limits(self.time or fallback.time, self.memory or fallback.memory, self.output or fallback.output)


BUILD_LIMITS = Limits(time=600.0, memory=0, output=1_000_000)  # memory 0: no limit


@dataclass(frozen=True)
class Section:
    id: str  # a Python identifier; prose quotes its values as {{ <id>.<name> }}
    title: str
    line: int
    needs: tuple[str, ...]  # ids of earlier sections whose names this section uses
    blocks: tuple[Union[Prose, Snippet], ...]
    limits: Limits = Limits()
    platform_tolerance: float = 0.0  # its own tolerance across platforms (0: the lecture's)
    slide: str = ""  # what its slide shows, one of SLIDE_MODES ("": the lecture's)

    @property
    def snippets(self) -> tuple[Snippet, ...]:
        return tuple(b for b in self.blocks if isinstance(b, Snippet))


@dataclass(frozen=True)
class Lecture:
    name: str  # file stem of lectures/<name>.md; also the name of its snippets folder
    source: Path
    title: str
    order: int
    summary: str
    seed: int
    setup: Snippet | None
    intro: tuple[Prose, ...]
    sections: tuple[Section, ...]
    limits: Limits = Limits()
    tolerance: float = 1e-3  # relative difference allowed between a float and its accepted value
    threads: int = 1  # torch's CPU threads per section: results depend on it, so it is fixed, not guessed
    precision: str = "default"  # float32 math on CUDA: one of PRECISIONS
    platform_tolerance: float = 0.02  # relative float tolerance against outputs accepted on another platform
    sequential: bool = False  # sections run as notebook cells do: each after all earlier ones, one random stream
    slides: str = "all"  # what its sections' slides show unless a section says otherwise (SLIDE_MODES)

    @property
    def in_deck(self) -> bool:
        """Whether the lecture has a slide deck at all (front matter `slides: none` leaves it out)."""
        return self.slides != "none"

    def section(self, section_id: str) -> Section:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)

    def closure(self, section: Section) -> tuple[Section, ...]:
        """The sections `section` builds on, directly or not, in lecture order."""
        wanted: set[str] = set()
        stack = list(section.needs)
        while stack:
            sid = stack.pop()
            if sid not in wanted:
                wanted.add(sid)
                stack.extend(self.section(sid).needs)
        return tuple(s for s in self.sections if s.id in wanted)

    @property
    def runnable(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if s.snippets)

    @property
    def run_ids(self) -> tuple[str, ...]:
        """What its results are stored under: the setup (where it has one), then every section with code."""
        return ((SETUP_ID,) if self.setup else ()) + tuple(s.id for s in self.runnable)


@dataclass(frozen=True)
class Course:
    root: Path
    title: str
    description: str
    lectures: tuple[Lecture, ...]
    executor: str = "local"  # where sections run unless the build says otherwise: "local" or "dask"
    scheduler: str = ""  # the Dask scheduler's address ("" starts a cluster on this machine)
    slides: bool = False  # a plain build also writes the slide decks, and the site links them
    pdf: bool = False  # a plain build also prints the PDF handouts, and the site links them

    def lecture(self, name: str) -> Lecture:
        for lecture in self.lectures:
            if lecture.name == name:
                return lecture
        raise KeyError(name)


# ----------------------------------------------------------------------------------------------
# What a run produced


@dataclass(frozen=True)
class Stream:
    name: str  # "stdout" or "stderr"
    text: str
    kind: str = field(default="stream", init=False)


@dataclass(frozen=True)
class Figure:
    file: str  # file name under build/results/<lecture>/figures/
    width: int  # pixels of the PNG
    height: int
    alt: str  # the figure's title, for alt text
    data: tuple[str, ...] = ()  # what it shows, as comparable lines (figures.describe); () in old results
    kind: str = field(default="figure", init=False)


@dataclass(frozen=True)
class Value:
    """The value of a snippet's final bare expression, shown as a notebook shows it."""

    text: str
    kind: str = field(default="value", init=False)


@dataclass(frozen=True)
class Error:
    ename: str
    evalue: str
    traceback: str  # formatted, frames of the snippet files only
    file: str  # snippet file and line where it was raised ("" when unknown)
    line: int
    expected: bool  # the snippet is marked ``:raises:`` with this exception
    kind: str = field(default="error", init=False)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "(unknown location)"


@dataclass(frozen=True)
class File:
    """A file a snippet declared (`:files:`) and wrote, published beside the lecture."""

    file: str  # "<section>/<name>" under build/results/<lecture>/files/
    size: int
    kind: str = field(default="file", init=False)


Output = Union[Stream, Figure, Value, Error, File]
_OUTPUT_TYPES = {"stream": Stream, "figure": Figure, "value": Value, "error": Error, "file": File}


@dataclass(frozen=True)
class SnippetRun:
    snippet: str  # Snippet.name
    outputs: tuple[Output, ...]
    seconds: float

    @property
    def error(self) -> Error | None:
        return next((o for o in self.outputs if isinstance(o, Error)), None)


@dataclass(frozen=True)
class Device:
    kind: str  # "cpu" or "cuda"
    name: str  # e.g. "NVIDIA H100 80GB HBM3" or the CPU model
    torch: str
    python: str
    cuda: str = ""  # CUDA runtime version when kind == "cuda"
    isa: str = ""  # the CPU kernels torch picked ("AVX512", "AVX2", ...): float results depend on them
    lecturebuild: str = ""  # the version of lecturebuild that ran the section
    commit: str = ""  # and its commit, where it ran from a git checkout

    @property
    def producer(self) -> str:
        """"lecturebuild 0.2.0 (commit 1a2b3c4d5e6f)", or "" for a result that does not say."""
        if not self.lecturebuild:
            return ""
        return f"lecturebuild {self.lecturebuild}" + (f" (commit {self.commit[:12]})" if self.commit else "")

    @property
    def description(self) -> str:
        parts = [self.name]
        if self.cuda:
            parts.append(f"CUDA {self.cuda}")
        parts += [f"torch {self.torch}", f"Python {self.python}"]
        return ", ".join(parts)


@dataclass(frozen=True)
class SectionResult:
    """Everything one run of a section produced. ``section == "_setup"`` for a lecture's setup."""

    lecture: str
    section: str
    key: str  # cache key: digest of `inputs`
    inputs: dict[str, str]  # what the run depended on, by name, for "why did this re-run"
    runs: tuple[SnippetRun, ...]
    values: dict[str, Any]  # names the section defined, summarised as plain data (see run/capture.py)
    device: Device
    seconds: float
    finished: str  # ISO 8601 UTC
    failure: str = ""  # why the run ended abnormally (signal, time limit, ...); "" otherwise
    reads: dict[str, str] = field(default_factory=dict)  # course files the run opened -> content digest
    memory: dict[str, float] = field(default_factory=dict)  # peak memory in MB: "rss", and "cuda" on a GPU
    wall: float = 0.0  # seconds from the fork of its process to its end: compute plus per-section overhead
    notes: tuple[str, ...] = ()  # what the instructor should know about a run that went well
    reused: tuple[str, ...] = ()  # the sections it needs that its process had run already, so were not redone
    executor: str = ""  # where it ran when not on this machine: the Dask cluster and worker

    @property
    def errors(self) -> tuple[Error, ...]:
        return tuple(e for run in self.runs if (e := run.error) is not None)

    @property
    def ok(self) -> bool:
        """True when the section ran to the end and raised nothing it was not expected to raise."""
        return not self.failure and all(e.expected for e in self.errors)

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "SectionResult":
        runs = tuple(
            SnippetRun(
                snippet=r["snippet"],
                outputs=tuple(_output_from_data(o) for o in r["outputs"]),
                seconds=r["seconds"],
            )
            for r in data["runs"]
        )
        return cls(
            lecture=data["lecture"],
            section=data["section"],
            key=data["key"],
            inputs=dict(data["inputs"]),
            runs=runs,
            values=dict(data["values"]),
            device=Device(**data["device"]),
            seconds=data["seconds"],
            finished=data["finished"],
            failure=data.get("failure", ""),
            reads=dict(data.get("reads", {})),
            memory=dict(data.get("memory", {})),
            wall=data.get("wall", 0.0),
            notes=tuple(data.get("notes", ())),
            reused=tuple(data.get("reused", ())),
            executor=data.get("executor", ""),
        )


@dataclass(frozen=True)
class SectionDone:
    """What the build hears as a section ends, from this machine's worker or a Dask task: its result is stored
    by then, with `digest`, unless `error` says why it could not be."""

    lecture: str
    section: str
    ok: bool
    seconds: float  # what its snippets took
    wall: float  # from the fork of its process to its end
    device: str  # the kind it ran on: "cpu" or "cuda"
    notes: tuple[str, ...] = ()
    reused: tuple[str, ...] = ()  # the sections it went on from instead of running them again
    digest: str = ""  # of the stored result
    error: str = ""  # why its result could not be stored ("": it was)

    @classmethod
    def of(cls, result: SectionResult, digest: str = "", error: str = "") -> "SectionDone":
        return cls(lecture=result.lecture, section=result.section, ok=result.ok and not error, seconds=result.seconds,
                   wall=result.wall, device=result.device.kind, notes=result.notes, reused=result.reused,
                   digest=digest, error=error)

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "SectionDone":
        return cls(**{**data, "notes": tuple(data["notes"]), "reused": tuple(data["reused"])})


@dataclass(frozen=True)
class LectureDone:
    """Every stale section of a lecture has ended: the digests of its results as they were stored, by section id,
    for rendering it while other lectures still run."""

    lecture: str
    digests: dict[str, str]


def _output_from_data(data: dict[str, Any]) -> Output:
    fields = dict(data)
    cls = _OUTPUT_TYPES[fields.pop("kind")]
    if "data" in fields:
        fields["data"] = tuple(fields["data"])
    return cls(**fields)


# ----------------------------------------------------------------------------------------------
# What a run hands to the prose: the values of the names a section defined, as plain data on disk
# (numbers, strings, lists and dicts of them, and the three kinds below, each a one-key dict).


class Shape(tuple):
    """A tensor shape; prints the way torch prints it, iterates like a tuple."""

    def __str__(self) -> str:
        return f"torch.Size([{', '.join(str(d) for d in self)}])"

    __repr__ = __str__

    def to_data(self) -> dict[str, Any]:
        return {"__shape__": list(self)}


@dataclass(frozen=True)
class TensorInfo:
    """What the prose may quote of a tensor: its shape, dtype, device and, if it holds one number, the number."""

    shape: Shape
    dtype: str
    device: str
    item: Any = None

    def __post_init__(self):
        object.__setattr__(self, "shape", Shape(self.shape))

    def __str__(self) -> str:
        return str(self.item) if self.item is not None else f"tensor of shape {self.shape}"

    def to_data(self) -> dict[str, Any]:
        info = {"shape": list(self.shape), "dtype": self.dtype, "device": self.device}
        return {"__tensor__": info if self.item is None else {**info, "item": self.item}}


@dataclass(frozen=True)
class ModuleInfo:
    """What the prose may quote of an nn.Module: its class name and parameter counts."""

    cls: str
    parameters: int
    trainable: int
    device: str = ""

    def __str__(self) -> str:
        return self.cls

    def to_data(self) -> dict[str, Any]:
        return {"__module__": asdict(self)}


def value_from_data(value: Any) -> Any:
    """A stored value as the prose sees it: shapes, tensors and modules as the types above."""
    if isinstance(value, list):
        return [value_from_data(v) for v in value]
    if isinstance(value, dict):
        if "__shape__" in value:
            return Shape(value["__shape__"])
        if "__tensor__" in value:
            return TensorInfo(**value["__tensor__"])
        if "__module__" in value:
            return ModuleInfo(**value["__module__"])
        return {k: value_from_data(v) for k, v in value.items()}
    return value


SETUP_ID = "_setup"  # the section name a lecture's setup result is stored under

# Float32 math on CUDA. "default" leaves PyTorch's defaults (cuDNN may use TF32, matmuls do not);
# "highest" turns TF32 off everywhere, so GPU results agree with the CPU's to float32 rounding;
# "high" allows TF32 in matmuls and cuDNN (fastest, about three decimal digits).
PRECISIONS = ("default", "high", "highest")

# What a section's slide shows: "all" its code and outputs (the prose becomes speaker notes), "outputs"
# or "code" only, "prose" the prose too, on the slide; "none" leaves the section (or lecture) out of the deck.
SLIDE_MODES = ("all", "outputs", "code", "prose", "none")

# Python's hash seed for every section: iteration over a set of strings is then the same in every run.
HASH_SEED = "0"


def required(lecture: Lecture, section: str) -> tuple[str, ...]:
    """What must have run, in order, in a process before `section` runs in it."""
    if section == SETUP_ID:
        return ()
    return ((SETUP_ID,) if lecture.setup else ()) + tuple(s.id for s in lecture.closure(lecture.section(section)))


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
