"""lecturebuild: lecture material whose every printed number comes from a real run.

The pipeline, one folder per stage (docs/architecture.md draws a build on one page):

    course/     course.yml, lectures/*.md, snippets/  -> Course (validated; nothing run yet)
    run/        Course + stored results -> the stale sections, run in the worker -> SectionResult records
    render/     Lecture + results -> build/markdown, html, notebooks, slides, site, pdf
    check/      the build against accepted snapshots, the prose, imported claims, a fresh kernel, the GPU
    importer/   notebooks, scripts and Markdown -> lectures
    tasks/      the doit tasks that chain these stages; dodo.py wires them: `from lecturebuild.dodo import *`

and what they share: model.py (the core types), store.py (build/ on disk), prelude.py (what every
section starts from), errors.py (every message an instructor sees).

Snippets never run inside the build process: run/worker.py is a separate interpreter that imports torch
once and forks a process per section (run/section.py and run/capture.py run inside it).
"""

from pathlib import Path

__version__ = "0.2.0"  # pyproject.toml reads it from here

# The built-in templates, shipped inside the package; a course's own templates/ folder overrides them by name.
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
