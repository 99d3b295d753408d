"""The core types. All immutable; every stage takes one of these and returns the next.

Course side (what the instructor wrote):  Course > Lecture > Section > Prose | Snippet
Run side (what a real run produced):      SectionResult > SnippetRun > Output, plus Device

Results cross a process boundary (the worker writes them, the build reads them) and live on disk
as JSON, so each run-side type converts to and from plain data with `to_data` / `from_data`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

# ----------------------------------------------------------------------------------------------
# What the instructor wrote


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
    values: dict[str, Any]  # names the section defined, summarised as plain data (see capture.py)
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


def _output_from_data(data: dict[str, Any]) -> Output:
    fields = dict(data)
    cls = _OUTPUT_TYPES[fields.pop("kind")]
    if "data" in fields:
        fields["data"] = tuple(fields["data"])
    return cls(**fields)


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
