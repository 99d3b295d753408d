"""Render a lecture and its results as an executed Jupyter notebook (nbformat 4).

Markdown cells hold the prose (quoted values filled in), code cells the snippets with their real
outputs. The notebook runs top to bottom in a fresh kernel as the build ran it: its first code cell
seeds the random generators, defines `device` and sets the float precision the same way, and each section starts with a
one-line cell that reseeds (not in a sequential lecture, whose one random stream runs through), so a re-run
reproduces the build's numbers (see prelude.py).
"""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
from nbformat import v4

from lecturebuild.model import HASH_SEED, Error, Figure, File, Stream, Value
from lecturebuild.prelude import prelude
from lecturebuild.render.text import clean
from lecturebuild.render.view import Cell, Heading, LectureView, Text
from lecturebuild.store import Store, write_atomic


def build_notebook(view: LectureView, store: Store) -> nbformat.NotebookNode:
    lecture = view.lecture
    setup = ("# Prepared by lecturebuild: the same seed, device and precision as the build that produced these\n"
             f"# outputs. The build fixed Python's hash seed: start Jupyter with PYTHONHASHSEED={HASH_SEED} for sets of\n"
             "# strings to iterate in the same order.\n"
             + prelude(lecture, view.device.kind) + "\nlecturebuild_seed()")
    cells = [v4.new_markdown_cell(f"# {lecture.title}\n\n*{lecture.summary}*"),
             _tagged(v4.new_code_cell(setup), "lecturebuild-prelude")]
    for item in view.items:
        if isinstance(item, Heading):
            cells.append(v4.new_markdown_cell(f"## {item.title}"))
            if not lecture.sequential:  # a sequential lecture's random stream runs on from the prelude
                cells.append(_tagged(v4.new_code_cell("lecturebuild_seed()"), "lecturebuild-seed"))
        elif isinstance(item, Text):
            cells.append(v4.new_markdown_cell(item.markdown))
        elif isinstance(item, Cell):
            cells.append(_code_cell(item, store.figures_dir(lecture.name)))
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number}"  # stable ids keep rebuilt notebooks diffable
    for number, cell in enumerate(c for c in cells if c.cell_type == "code"):
        cell.execution_count = number + 1
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = cell.execution_count
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": view.device.python},
        "lecturebuild": {"lecture": lecture.name, "device": view.device.kind, "device_name": view.device.name,
                         "torch": view.device.torch, "python": view.device.python, "cuda": view.device.cuda,
                         "precision": lecture.precision, "hash_seed": HASH_SEED, "built": view.built,
                         "version": view.device.lecturebuild, "commit": view.device.commit},
    })
    return notebook


def _tagged(cell, tag: str):
    cell.metadata["tags"] = [tag]
    return cell


def _code_cell(item: Cell, figures: Path):
    cell = v4.new_code_cell(item.code)
    tags = []
    if item.snippet.raises:
        tags.append("raises-exception")  # nbclient and Jupyter go on past this cell's error
    if item.setup:
        tags.append("lecturebuild-setup")
    if tags:
        cell.metadata["tags"] = tags
    cell.metadata["lecturebuild"] = {"snippet": item.snippet.file, "seconds": item.seconds}
    for output in item.outputs:
        if isinstance(output, Stream):
            cell.outputs.append(v4.new_output("stream", name=output.name, text=clean(output.text)))
        elif isinstance(output, Figure):
            data = base64.b64encode((figures / output.file).read_bytes()).decode("ascii")
            cell.outputs.append(v4.new_output(
                "display_data", data={"image/png": data, "text/plain": f"<Figure: {output.alt}>"},
                metadata={"image/png": {"width": output.width // 2, "height": output.height // 2}}))
        elif isinstance(output, Value):
            cell.outputs.append(v4.new_output("execute_result", data={"text/plain": clean(output.text)},
                                              execution_count=None))
        elif isinstance(output, File):
            name = output.file.split("/")[-1]
            cell.outputs.append(v4.new_output("stream", name="stdout",
                                              text=f"[file written: {name}, {output.size:,} bytes]\n"))
        elif isinstance(output, Error):
            cell.outputs.append(v4.new_output("error", ename=output.ename, evalue=output.evalue,
                                              traceback=clean(output.traceback).splitlines()))
    return cell


def write_notebook(view: LectureView, store: Store, out_dir: Path) -> Path:
    """build/notebooks/<lecture>.ipynb."""
    notebook = build_notebook(view, store)
    target = out_dir / f"{view.lecture.name}.ipynb"
    invalid: dict = {}
    text = nbformat.writes(notebook, capture_validation_error=invalid)  # validates against the schema
    if invalid:
        raise invalid["ValidationError"]
    write_atomic(target, text + "\n")
    return target
