"""Benchmark lecturebuild against `jupyter nbconvert --execute` and plain scripts, side by side.

    .venv/bin/pip install -q -e '.[bench]' && .venv/bin/python benchmarks/run.py

Everything is measured in one run on this machine, in temporary copies (the repository's build/ is
not touched), and written as a Markdown table to docs/benchmarks.md. It takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lecturebuild.course import load_course  # noqa: E402
from lecturebuild.script import write_script  # noqa: E402


def timed(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    return elapsed, result


def doit(course: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    # The warm worker is part of what is measured; it idles out soon after the benchmark.
    return timed([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), *args, f"course={course}"], course,
                 env={"LECTUREBUILD_WORKER_IDLE": "30"})


def copy_shipped(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in ("lectures", "snippets", "templates"):
        shutil.copytree(REPO / name, destination / name)
    shutil.copy(REPO / "course.yml", destination / "course.yml")
    return destination


def results(course: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((course / "build" / "results").glob("*/*.json"))]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def shipped(work: Path) -> list[tuple]:
    course = copy_shipped(work / "shipped")
    rows = []
    cold, _ = doit(course)
    compute = sum(r["seconds"] for r in results(course))

    # The same lectures' code: executed notebooks with outputs stripped, and plain scripts.
    import nbformat

    notebooks, scripts = work / "nbconvert", work / "scripts"
    notebooks.mkdir()
    scripts.mkdir()
    nbconvert = floor = 0.0
    for lecture in load_course(course).lectures:
        notebook = nbformat.read(course / "build" / "notebooks" / f"{lecture.name}.ipynb", as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        stripped = notebooks / f"{lecture.name}.ipynb"
        nbformat.write(notebook, stripped)
        elapsed, _ = timed([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                            "--ExecutePreprocessor.timeout=600", str(stripped), "--output", f"{lecture.name}.out"],
                           notebooks)
        nbconvert += elapsed
        script = write_script(lecture, scripts / f"{lecture.name}.py")
        elapsed, _ = timed([sys.executable, str(script)], scripts, env={"MPLBACKEND": "Agg"})
        floor += elapsed
    rows.append(("Shipped course: cold full build (3 formats)", cold,
                 f"≤ 0.6 × nbconvert ({0.6 * nbconvert:.1f} s)", cold <= 0.6 * nbconvert))
    rows.append(("  `jupyter nbconvert --to notebook --execute`, outputs stripped", nbconvert, "", None))
    rows.append(("  the same code as plain Python scripts (the floor)", floor,
                 f"build ≤ 1.15 × floor ({1.15 * floor:.1f} s)", cold <= 1.15 * floor))
    rows.append(("  sections' own compute, summed", compute, "", None))

    noop, _ = doit(course)
    rows.append(("Shipped course: no-op rebuild", noop, "< 0.3 s", noop < 0.3))
    edit(course / "lectures" / "01_rnns_lstms.md", "This lecture covers:", "This lecture covers, in order:")
    prose, out = doit(course)
    rows.append(("Shipped course: prose-only edit", prose, "runs no code", "runs (" not in out.stderr))
    template = course / "templates" / "markdown" / "lecture.md.j2"
    template.write_text(template.read_text() + "{# edited #}\n")
    tmpl, out = doit(course)
    rows.append(("Shipped course: template-only edit", tmpl, "runs no code", "runs (" not in out.stderr))
    for lecture in load_course(course).lectures:
        section = next(s for s in lecture.runnable if not any(s.id in t.needs for t in lecture.sections))
        snippet = section.snippets[0]
        snippet.path.write_text(snippet.code + "\n# edited\n")
        elapsed, out = doit(course)
        rerun = [r for r in results(course) if r["lecture"] == lecture.name and r["section"] == section.id]
        own = rerun[0]["seconds"]
        rows.append((f"One-section edit: {lecture.name}/{section.id}", elapsed,
                     f"≤ its compute + 0.5 s ({own + 0.5:.2f} s)", elapsed <= own + 0.5))
    return rows


def synthetic_course(root: Path, lectures: int, sections: int) -> Path:
    (root / "lectures").mkdir(parents=True)
    for n in range(lectures):
        name = f"l{n:03d}"
        folder = root / "snippets" / name
        folder.mkdir(parents=True)
        (folder / "setup.py").write_text("import torch\n")
        body = ""
        for k in range(sections):
            (folder / f"s{k}.py").write_text(f"x = torch.arange({k + 3})\nprint(x.sum().item())\n")
            body += f"## Section {k} {{#s{k}}}\nSection {k} sums to {{{{ s{k}.x.shape }}}}.\n\n```{{snippet}} s{k}.py\n```\n\n"
        (root / "lectures" / f"{name}.md").write_text(
            f"---\ntitle: Lecture {n}\norder: {n}\nsummary: Synthetic.\nsetup: setup.py\n---\n{body}")
    return root


def synthetic(work: Path) -> list[tuple]:
    course = synthetic_course(work / "synthetic", lectures=200, sections=10)
    rows = []
    cold, _ = doit(course)
    records = [r for r in results(course) if r["section"] != "_setup"]
    overheads = [r["wall"] - r["seconds"] for r in records]
    median = statistics.median(overheads)
    rows.append(("Synthetic 200 × 10: cold full build (3 formats)", cold, "", None))
    rows.append(("  per-section overhead beyond its compute, median", median * 1000, "< 20 ms", median < 0.020, "ms"))
    noop, _ = doit(course)
    rows.append(("Synthetic 200 × 10: no-op rebuild", noop, "< 1.5 s", noop < 1.5))
    edit(course / "snippets" / "l100" / "s5.py", "print(", "print('edited', ")
    one, _ = doit(course)
    own = next(r["seconds"] for r in results(course) if r["lecture"] == "l100" and r["section"] == "s5")
    rows.append(("Synthetic 200 × 10: one-section edit", one, f"≤ its compute + 0.5 s ({own + 0.5:.2f} s)",
                 one <= own + 0.5))
    return rows


def machine() -> str:
    from importlib import metadata

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; Python {platform.python_version()}, "
            f"torch {metadata.version('torch')}, nbconvert {metadata.version('nbconvert')}")


def table(rows: list[tuple]) -> str:
    """Rows are (measurement, value, target, met[, unit]); the unit is seconds unless given."""
    lines = ["| measurement | value | target | met |", "| --- | ---: | --- | --- |"]
    for name, value, target, met, *unit in rows:
        lines.append(f"| {name} | {value:.{1 if unit else 2}f} {unit[0] if unit else 's'} | {target} | "
                     f"{'' if met is None else ('yes' if met else '**no**')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--skip-synthetic", action="store_true", help="only the shipped course")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = shipped(work)
        if not args.skip_synthetic:
            rows += synthetic(work)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows.append(("Peak memory of the largest build process", peak, "", None, "MB"))
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    text = f"## CPU run, {when}\n\nMachine: {machine()}.\n\n{table(rows)}\n"
    print(text)
    write_between_markers(args.output, "cpu-run", text)


def write_between_markers(path: Path, name: str, text: str) -> None:
    """Replace the text between <!-- name --> and <!-- /name -->, keeping the rest of the file."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    old = path.read_text() if path.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    if start not in old:
        old += f"\n{start}\n{end}\n"
    before, rest = old.split(start, 1)
    after = rest.split(end, 1)[1]
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"{before}{start}\n{text}{end}{after}")


if __name__ == "__main__":
    main()
