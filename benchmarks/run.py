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

from lecturebuild.course.load import load_course  # noqa: E402
from lecturebuild.render.script import write_script  # noqa: E402


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
                 env={"LECTUREBUILD_WORKER_IDLE": "300"})


def copy_shipped(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in ("lectures", "snippets", "templates"):
        shutil.copytree(REPO / name, destination / name)
    shutil.copy(REPO / "course.yml", destination / "course.yml")
    return destination


def results(course: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((course / "build" / "results").glob("*/*.json"))
            if "." not in p.stem]  # not the reads index or a cut output's layout


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
    rows.append(("Shipped course: cold full build (3 formats, site and slides)", cold,
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


def chain_course(root: Path) -> Path:
    """One lecture where a training section of about a second is followed by four that use its model."""
    folder = root / "snippets" / "chain"
    folder.mkdir(parents=True)
    (root / "lectures").mkdir(parents=True)
    (folder / "setup.py").write_text("import torch\nfrom torch import nn\n")
    sections = {
        "train": ("", "model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1)).to(device)\n"
                      "x = torch.randn(512, 64).to(device)\ny = x.sum(dim=1, keepdim=True)\n"
                      "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\nfor _ in range(1500):\n"
                      "    loss = ((model(x) - y) ** 2).mean()\n    optimizer.zero_grad()\n    loss.backward()\n"
                      "    optimizer.step()\nprint(f'{loss.item():.3f}')\n"),
        **{name: ("train", f"print('{name}', model(x[:2]).shape)\n") for name in ("evaluate", "plot", "sample",
                                                                                      "inspect")},
    }
    body = ""
    for sid, (needs, code) in sections.items():
        (folder / f"{sid}.py").write_text(code)
        body += f"## {sid} {{#{sid}{f' needs={needs}' if needs else ''}}}\n\n```{{snippet}} {sid}.py\n```\n\n"
    (root / "lectures" / "chain.md").write_text(
        f"---\ntitle: Chain\norder: 1\nsummary: Sections that use a trained model.\nsetup: setup.py\n---\n{body}")
    return root


def longest_chain(course: Path) -> float:
    """The longest chain of section compute: a section's own seconds plus those of the setup and the
    sections it needs (what no schedule can overlap)."""
    from lecturebuild.model import SETUP_ID, required

    seconds = {(r["lecture"], r["section"]): r["seconds"] for r in results(course)}
    return max(seconds[lecture.name, sid] + sum(seconds[lecture.name, n] for n in required(lecture, sid))
               for lecture in load_course(course).lectures
               for sid in [SETUP_ID] * bool(lecture.setup) + [s.id for s in lecture.runnable])


def execution(work: Path, device: str) -> list[tuple]:
    """What executing costs on `device`: per-section overhead, a cold build against its longest chain,
    and sections that need a trained model with and without going on from its process."""
    rows = []
    trivial = synthetic_course(work / f"trivial-{device}", lectures=1, sections=30)
    doit(trivial, "execute", f"device={device}")
    overheads = [r["wall"] - r["seconds"] for r in results(trivial) if r["section"] != "_setup"]
    median = statistics.median(overheads)
    target = 0.050 if device == "cuda" else 0.020
    rows.append((f"30 trivial sections on {device}: overhead per section beyond its compute, median", median * 1000,
                 f"< {target * 1000:.0f} ms", median < target, "ms"))
    course = copy_shipped(work / f"shipped-{device}")
    cold, _ = doit(course, f"device={device}")
    chain = longest_chain(course)
    rows.append((f"Shipped course on {device}: cold full build (3 formats)", cold,
                 f"≤ longest chain + 3 s ({chain + 3:.1f} s)", cold <= chain + 3))
    rows.append((f"  its longest chain of section compute on {device}", chain, "", None))
    if device == "cuda":
        on_cpu, _ = doit(copy_shipped(work / "shipped-cpu-beside"), "device=cpu")
        rows.append(("  the same course on this machine's CPU", on_cpu, "GPU build faster", cold < on_cpu))
    times = {}
    for reuse in ("yes", "no"):
        course = chain_course(work / f"chain-{device}-{reuse}")
        times[reuse], _ = doit(course, "execute", f"device={device}", f"reuse={reuse}")
    rows.append((f"A trained model and 4 sections using it on {device}: execute", times["yes"],
                 "below replaying it", times["yes"] < times["no"]))
    rows.append(("  the same with reuse=no (each replays the training)", times["no"], "", None))
    return rows


def on_dask(work: Path) -> list[tuple]:
    """The local executor against a Dask LocalCluster with as many workers as cores, executing only."""
    rows = []
    lanes = os.cpu_count() or 1
    for name, make in (("Shipped course", copy_shipped),
                       ("Synthetic 200 × 10", lambda path: synthetic_course(path, lectures=200, sections=10))):
        times = {}
        for executor in ("local", "dask"):
            course = make(work / f"{name.split()[0].lower()}-{executor}")
            times[executor], _ = doit(course, "execute", f"executor={executor}")
        count = len(results(course))
        rows.append((f"{name}: execute, local executor", times["local"], "", None))
        rows.append((f"  the same on a Dask LocalCluster ({lanes} workers)", times["dask"], "", None))
        if count > 100:  # enough sections for the cluster's start to matter little
            added = (times["dask"] - times["local"]) * lanes / count
            rows.append((f"  what Dask adds per section ({count} sections, {lanes} at a time, cluster start "
                         "included)", added * 1000, "< 30 ms", added < 0.030, "ms"))
    return rows


def formats(work: Path) -> list[tuple]:
    """Slides and PDFs of the shipped course after a build: how long each takes, and that neither runs a section."""
    course = copy_shipped(work / "formats")
    doit(course)
    stored = {p: p.stat().st_mtime_ns for p in (course / "build" / "results").rglob("*.json")}
    rows = []
    shutil.rmtree(course / "build" / "slides")
    for name, args in (("`doit slides`: the 3 decks, after a build", ("slides",)),
                       ("`doit slides` again (nothing changed)", ("slides",)),
                       ("`doit pdf`: the 3 PDF handouts, after a build", ("pdf",)),
                       ("`doit pdf` again (nothing changed)", ("pdf",))):
        seconds, result = doit(course, *args)
        ran = result.stderr.count("runs (")
        rows.append((name, seconds, "runs no section", ran == 0))
    untouched = {p: p.stat().st_mtime_ns for p in (course / "build" / "results").rglob("*.json")} == stored
    rows.append(("Results rewritten by slides and PDFs", float(not untouched), "none", untouched, "files"))
    decks = sorted((course / "build" / "slides").glob("*.html"))
    rows.append(("Deck size, largest (reveal.js and figures inline)", max(p.stat().st_size for p in decks) / 1e6, "",
                 None, "MB"))
    pdfs = sorted((course / "build" / "pdf").glob("*.pdf"))
    rows.append(("PDF size, largest", max(p.stat().st_size for p in pdfs) / 1e6, "", None, "MB"))
    return rows


def machine(device: str) -> str:
    from importlib import metadata

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = ""
    if device == "cuda":
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True).stdout.strip() + ", "
    return (f"{gpu}{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; Python {platform.python_version()}, "
            f"torch {metadata.version('torch')}")


def chromium() -> str:
    from lecturebuild.render.pdf import find_chromium

    return subprocess.run([find_chromium(), "--version"], capture_output=True, text=True).stdout.strip()


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
    parser.add_argument("--execution-only", action="store_true",
                        help="only what executing costs: on the CPU, the GPU where there is one, and on Dask")
    parser.add_argument("--formats-only", action="store_true", help="only slides and PDFs after a build")
    args = parser.parse_args()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    from lecturebuild.run.device import cuda_present

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        text = f"## Slides and PDFs, {when}\n\nMachine: {machine('cpu')}, {chromium()}.\n\n{table(formats(work))}\n"
        print(text)
        write_between_markers(args.output, "formats", text)
        if args.formats_only:
            return
        for device in ["cpu"] + ["cuda"] * cuda_present():
            text = f"## Execution on {device}, {when}\n\nMachine: {machine(device)}.\n\n{table(execution(work, device))}\n"
            print(text)
            write_between_markers(args.output, f"execution-{device}", text)
        text = f"## Dask, {when}\n\nMachine: {machine('cpu')}.\n\n{table(on_dask(work))}\n"
        print(text)
        write_between_markers(args.output, "dask", text)
        if args.execution_only:
            return
        rows = shipped(work)
        if not args.skip_synthetic:
            rows += synthetic(work)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows.append(("Peak memory of the largest build process", peak, "", None, "MB"))
    from importlib import metadata

    text = (f"## CPU run, {when}\n\nMachine: {machine('cpu')}, nbconvert {metadata.version('nbconvert')}.\n\n"
            f"{table(rows)}\n")
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
