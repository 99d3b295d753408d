"""`doit reproduce`: the built notebooks re-executed in a fresh Jupyter kernel, and their outputs compared with
the build's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lecturebuild.check.compare import Drift, lines_agree, normalise, tolerant_diff
from lecturebuild.errors import LectureBuildError
from lecturebuild.model import BUILD_LIMITS, HASH_SEED, Course
from lecturebuild.render.text import ANSI
from lecturebuild.store import Store


def notebook_lines(notebook) -> dict[str, list[str]]:
    """Each code cell's outputs as comparable lines, keyed by cell id. Figures count, not their pixels:
    a kernel's inline backend draws them at its own size."""
    cells = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = []
        for output in cell.outputs:
            kind = output.output_type
            if kind == "stream":
                lines += [f"{output.name}: {line}" for line in normalise(output.text).splitlines()]
            elif kind == "execute_result":
                lines += [f"value: {line}" for line in normalise(output.data.get("text/plain", "")).splitlines()]
            elif kind == "display_data" and "image/png" in output.data:
                lines.append("figure")
            elif kind == "error":
                lines.append(f"error: {output.ename}: {normalise(output.evalue)}")
        cells[cell.id] = lines
    return cells


def reproduce_notebook(path: Path, tolerance: float, workdir: Path, timeout: float,
                       modules: tuple[Path, ...] = (), data: Path | None = None) -> list[Drift]:
    """Run a built notebook top to bottom in a fresh kernel; the cells whose outputs differ from the built ones.
    The kernel imports local `modules` folders and works in `workdir`, which holds the course's `data` (and
    each of its entries) as a section's working folder does; a cell that raises is a LectureBuildError."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    built = nbformat.read(path, as_version=4)
    fresh = nbformat.read(path, as_version=4)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    if data is not None and data.is_dir():
        for entry in [data, *sorted(data.iterdir())]:
            name = "data" if entry == data else entry.name
            if entry == data or (name != "data" and not name.startswith(".")):
                (workdir / name).symlink_to(entry)
    # The build's own interpreter, not whichever "python3" kernel is installed on the machine: another
    # Python hashes strings differently and may have another torch.
    kernel = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    client = NotebookClient(fresh, km=kernel, timeout=int(timeout), resources={"metadata": {"path": str(workdir)}})
    path_entries = [str(m) for m in modules] + [p for p in [os.environ.get("PYTHONPATH", "")] if p]
    try:
        client.execute(env={**os.environ, "PYTHONHASHSEED": HASH_SEED,  # as the build's sections ran
                            "PYTHONPATH": os.pathsep.join(path_entries)})
    except CellExecutionError as exc:
        raise LectureBuildError(f"{path.name}: a cell raised {exc.ename} when re-executed in a fresh kernel: "
                                f"{ANSI.sub('', exc.evalue)}") from None
    expected, actual = notebook_lines(built), notebook_lines(fresh)
    drifts = []
    for cell in built.cells:
        if cell.cell_type != "code":
            continue
        old, new = expected[cell.id], actual.get(cell.id, [])
        if len(old) == len(new) and all(lines_agree(a, b, tolerance) for a, b in zip(old, new)):
            continue
        where = cell.metadata.get("lecturebuild", {}).get("snippet", cell.id)
        diff = tolerant_diff(old, new, ("built", "re-executed"), tolerance)
        drifts.append(Drift(path.stem, f"notebook cell {where!r}", diff, "what the build printed"))
    return drifts


def reproduce_course(course: Course, store: Store, say) -> list[str]:
    """Re-execute every built notebook in a fresh Jupyter kernel; every cell that prints otherwise."""
    problems = []
    for lecture in course.lectures:
        path = store.build / "notebooks" / f"{lecture.name}.ipynb"
        limit = lecture.limits.over(BUILD_LIMITS).time * max(1, len(lecture.runnable))
        say(f"  re-executing {path.name} in a fresh kernel")
        workdir = store.scratch_dir(lecture.name, "_notebook")
        modules = (course.root / "snippets" / lecture.name, course.root)
        problems += [str(d) for d in reproduce_notebook(path, lecture.tolerance, workdir, limit, modules,
                                                        course.root / "data")]
    return problems
