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

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .model import SectionResult


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
