"""lecturebuild: lecture material whose every printed number comes from a real run.

The pipeline, one module per stage:

    course.load_course      lectures/*.md + snippets/  -> Course (validated, nothing run yet)
    cache.plan_lecture      Course + stored results    -> which sections must run, and why
    execute.execute_lecture plan                       -> SectionResult records under build/results/
    render / notebook       Lecture + results          -> build/markdown, build/html, build/notebooks
    tasks                   the doit tasks that chain these stages
    dodo                    every task, for a course's dodo.py: `from lecturebuild.dodo import *`

Snippets never run inside the build process: `worker` is a separate interpreter that imports torch
once and forks a child per section (`capture` is the code that runs inside that child).
"""

from pathlib import Path

__version__ = "0.2.0"  # pyproject.toml reads it from here

# The built-in templates, shipped inside the package; a course's own templates/ folder overrides them by name.
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
