"""Where results live under build/, and writing them so that a half-written file is never read.

    build/results/<lecture>/<section>.json     one SectionResult per section (``_setup`` for the setup)
    build/results/<lecture>/figures/<sha>.png  figures, named by content
    build/results/<lecture>/files/<section>/   files its snippets declared with :files:
    build/results/<lecture>/.reads.json        the course files its results read, and their digests
    build/results/last-run.json                the sections the latest executing build ran, and why
    build/results/.manifest.json               the digest of every result the worker stored
    build/logs/<lecture>/<section>.log         what the section wrote to the raw file descriptors
    build/logs/<lecture>/<section>.output.txt  its full printed output, when the rendered one was cut
    build/logs/<lecture>/<section>.output.json which snippet and output each stretch of it belongs to
    build/scratch/<lecture>/<section>/         the working directory a section runs in
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from lecturebuild.model import Lecture, SectionResult

# The digest of each result the worker stored, by (lecture, section id).
Manifest = dict[tuple[str, str], str]


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`: readers see the old file or the
    new one, never a half-written one. No fsync: after a power loss a result may be lost or torn, and a
    torn result fails to parse and is run again, so durability is not worth its milliseconds per file."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600 files: a web server running as another user could not read them
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # a full disk names no file: name the one we wrote
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file: the user's umask decides who may read


@dataclass(frozen=True)
class Store:
    build: Path  # the build/ folder

    def results_dir(self, lecture: str) -> Path:
        return self.build / "results" / lecture

    def result_path(self, lecture: str, section: str) -> Path:
        return self.results_dir(lecture) / f"{section}.json"

    def figures_dir(self, lecture: str) -> Path:
        return self.results_dir(lecture) / "figures"

    def log_path(self, lecture: str, section: str) -> Path:
        return self.build / "logs" / lecture / f"{section}.log"

    def output_log_path(self, lecture: str, section: str) -> Path:
        """The full printed output of a section whose output was cut in the rendered material."""
        return self.build / "logs" / lecture / f"{section}.output.txt"

    def files_dir(self, lecture: str, section: str) -> Path:
        """Files a section's snippets declared with `:files:`."""
        return self.results_dir(lecture) / "files" / section

    def reads_path(self, lecture: str) -> Path:
        """Every course file the lecture's stored results read, with its digest then (doit's up-to-date check)."""
        return self.results_dir(lecture) / ".reads.json"  # no section id starts with a dot

    def scratch_dir(self, lecture: str, section: str) -> Path:
        return self.build / "scratch" / lecture / section

    @property
    def last_run_path(self) -> Path:
        """Which sections the latest build that executed anything ran, and why (the site's report)."""
        return self.build / "results" / "last-run.json"

    def write(self, result: SectionResult) -> str:
        """Store `result`; return the digest of what was written (the build's manifest records it)."""
        text = json.dumps(result.to_data(), indent=1, ensure_ascii=False, sort_keys=True)
        write_atomic(self.result_path(result.lecture, result.section), text)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    @property
    def manifest_path(self) -> Path:
        """The digest of every result the worker stored: a result that differs was written by something else."""
        return self.build / "results" / ".manifest.json"

    def load(self, lecture: str, section: str) -> SectionResult | None:
        """The stored result, or None when there is none or it cannot be read (then the section re-runs)."""
        return read_result(self.result_path(lecture, section))

    def result_paths(self, lecture: Lecture) -> dict[str, Path]:
        """Where each of the lecture's results is stored, by section id (the setup's first)."""
        return {sid: self.result_path(lecture.name, sid) for sid in lecture.run_ids}

    def result_files(self, lecture: Lecture) -> list[str]:
        """The same, as doit's file lists take them."""
        return [str(path) for path in self.result_paths(lecture).values()]

    def results(self, lecture: Lecture) -> "Results":
        return Results(lecture.name, {sid: self.load(lecture.name, sid) for sid in lecture.run_ids})

    def read_manifest(self, lectures) -> Manifest:
        """The digests of the results the worker stored. A build folder without a manifest (new, or from an
        older lecturebuild) takes the results it holds as they are, once."""
        try:
            entries = json.loads(self.manifest_path.read_text("utf-8"))
            return {_manifest_key(key): entry["digest"] for key, entry in entries.items()}
        except (OSError, ValueError, TypeError, KeyError):
            return {(lecture.name, sid): file_digest(path) for lecture in lectures
                    for sid, path in self.result_paths(lecture).items() if path.exists()}

    def write_manifest(self, manifest: Manifest) -> None:
        """With each digest, the file's modification time: doit's up-to-date check compares that (cheaply)."""
        entries = {}
        for (lecture, sid), digest in sorted(manifest.items()):
            with contextlib.suppress(OSError):
                mtime = self.result_path(lecture, sid).stat().st_mtime_ns
                entries[f"{lecture}/{sid}"] = {"digest": digest, "mtime": mtime}
        write_atomic(self.manifest_path, json.dumps(entries, indent=0))

    def changed_results(self, lecture: Lecture, manifest: Manifest) -> list[str]:
        """The lecture's stored results whose content is not what the worker stored."""
        return [sid for sid, path in self.result_paths(lecture).items()
                if path.exists() and manifest.get((lecture.name, sid)) != file_digest(path)]

    def write_reads_index(self, lecture: Lecture) -> None:
        """The files any of the lecture's results read: doit consults them to decide whether to plan at all."""
        reads: dict[str, str] = {}
        for result in self.results(lecture).values():
            reads.update(result.reads if result is not None else {})
        path = self.reads_path(lecture.name)
        text = json.dumps(dict(sorted(reads.items())), indent=0)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text)


class Results(Mapping):
    """A lecture's stored results by section id (the setup's under SETUP_ID first), None where a section has
    none that can be read; it knows whether every section ran well."""

    def __init__(self, lecture: str, results: dict[str, SectionResult | None]):
        self.lecture = lecture
        self._results = dict(results)

    def __getitem__(self, sid: str) -> SectionResult | None:
        return self._results[sid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    @property
    def without_good_run(self) -> list[str]:
        """The sections whose result is missing, or whose run failed."""
        return [sid for sid, r in self._results.items() if r is None or not r.ok]

    @property
    def all_good(self) -> bool:
        return not self.without_good_run

    def good(self) -> dict[str, SectionResult]:
        """The results of the sections that ran well."""
        return {sid: r for sid, r in self._results.items() if r is not None and r.ok}

    def stored(self) -> dict[str, SectionResult]:
        """Every result there is, good or not."""
        return {sid: r for sid, r in self._results.items() if r is not None}


def _manifest_key(key: str) -> tuple[str, str]:
    lecture, _, sid = key.partition("/")
    return lecture, sid


def reads_unchanged(index: str, root: str) -> bool:
    """doit's up-to-date check of a lecture's execute task: False once a file its sections read changed
    (a data file, a local module); the task then runs, and the planner says which file it was."""
    try:
        reads = json.loads(Path(index).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return not any(file_digest(Path(root) / path) != digest for path, digest in reads.items())


def results_untouched(manifest_path: str, lecture: str, paths: list[str]) -> bool:
    """doit's up-to-date check of an execute task: False once a stored result was changed since the
    worker wrote it (by hand, or by a process a section left behind); the planner then runs it again."""
    try:
        entries = json.loads(Path(manifest_path).read_text("utf-8"))
    except (OSError, ValueError):
        return True  # no manifest yet: the first executing build makes one
    for path in paths:
        entry = entries.get(f"{lecture}/{Path(path).stem}")
        with contextlib.suppress(OSError):
            if entry is None or Path(path).stat().st_mtime_ns != entry["mtime"]:
                return False
    return True


def file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    except OSError:
        return "missing"


def read_result(path: Path) -> SectionResult | None:
    try:
        return SectionResult.from_data(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def key_of(inputs: dict[str, str]) -> str:
    return digest(json.dumps(inputs, sort_keys=True))
