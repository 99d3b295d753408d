"""The executed notebooks: valid nbformat 4, real outputs, and they re-run in a fresh kernel."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient


def load(course, name):
    return nbformat.read(course / "build" / "notebooks" / f"{name}.ipynb", as_version=4)


def code_cells(notebook, tag=None):
    return [c for c in notebook.cells if c.cell_type == "code" and (tag is None or tag in c.metadata.get("tags", []))]


def test_notebooks_validate_and_carry_metadata(built_sample):
    course, _ = built_sample
    for name in ("01_basics", "02_plots"):
        notebook = load(course, name)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "python3"
        meta = notebook.metadata.lecturebuild
        assert meta.device == "cpu" and meta.torch.startswith("2.") and meta.python.startswith("3.")
        counts = [c.execution_count for c in code_cells(notebook)]
        assert counts == list(range(1, len(counts) + 1))


def test_notebook_outputs_are_the_real_outputs(built_sample):
    course, _ = built_sample
    notebook = load(course, "02_plots")
    outputs = [o for c in code_cells(notebook) for o in c.outputs]
    kinds = [o.output_type for o in outputs]
    assert "display_data" in kinds and "error" in kinds and "stream" in kinds
    image = next(o for o in outputs if o.output_type == "display_data")
    import base64

    assert base64.b64decode(image.data["image/png"])[:4] == b"\x89PNG"
    error_cell = next(c for c in code_cells(notebook) if any(o.output_type == "error" for o in c.outputs))
    assert "raises-exception" in error_cell.metadata.tags
    basics = load(course, "01_basics")
    assert code_cells(basics, "lecturebuild-setup")[0].source == "import torch\nimport torch.nn as nn"


@pytest.mark.parametrize("name", ["01_basics", "02_plots"])
def test_notebook_reruns_top_to_bottom_and_reproduces_its_text(built_sample, tmp_path, name):
    course, _ = built_sample
    built = load(course, name)
    fresh = load(course, name)
    NotebookClient(fresh, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    def texts(notebook):
        return [(o.name, o.text) for c in code_cells(notebook) for o in c.outputs
                if o.output_type == "stream" and o.name == "stdout"]

    assert texts(fresh) == texts(built) and texts(built)


def test_a_lecture_without_code_gets_every_format(sample_course):
    from conftest import doit

    (sample_course / "lectures" / "03_reading.md").write_text(
        "---\ntitle: Further reading\norder: 3\nsummary: Prose only.\n---\n## Papers\n\nRead the LSTM paper.\n")
    result = doit(sample_course)
    assert result.returncode == 0, result.stderr
    for path in ("notebooks/03_reading.ipynb", "markdown/03_reading.md", "site/03_reading.html", "site/03_reading.py"):
        assert (sample_course / "build" / path).is_file(), path
    for path in ("markdown/03_reading.md", "html/03_reading.html"):
        text = (sample_course / "build" / path).read_text()
        assert "This lecture has no code" in text and "real run" not in text, path
