"""Every lecturebuild task, for the course in the current folder: a course's dodo.py is

    from lecturebuild.dodo import *  # noqa: F403

doit runs a dodo.py from its own folder, so that folder is the course; `doit course=PATH` builds another
one with the same tasks. `lecturebuild build` loads this module directly where a course has no dodo.py.
Loading it validates the course (reporting every problem before anything runs) and never imports torch.
"""

import os
import sys
from pathlib import Path

from doit import get_var

from lecturebuild.tasks import check, execute, options, publish, render, report

__all__ = ["DOIT_CONFIG", "task_execute", "task_markdown", "task_html", "task_notebook", "task_slides", "task_pdf",
           "task_site", "task_claims", "task_publish", "task_check", "task_accept", "task_portability",
           "task_reproduce"]

# The course to build: the folder doit runs in (the dodo.py's), or another one with `doit course=PATH`.
ROOT = Path(get_var("course") or os.getcwd()).resolve()
if not ROOT.is_dir():
    print(f"lecturebuild: course={get_var('course')}: no such folder; name the course's folder "
          "(the one with course.yml)", file=sys.stderr)
    raise SystemExit(2)
os.chdir(ROOT)  # messages then name files relative to the course
DOIT_CONFIG = report.doit_config(ROOT)
COURSE = options.load_or_exit(ROOT)
DOIT_CONFIG["default_tasks"] += options.course_formats(COURSE)  # course.yml's `slides: true`, `pdf: true`
DEVICE = options.device_or_exit(options.requested_device(), COURSE)
JOBS = options.requested_jobs(DEVICE)


def task_execute():
    """Run the stale sections of every lecture on the device (doit device=auto|cpu|cuda jobs=N)."""
    yield from execute.execute_tasks(COURSE, DEVICE, JOBS)


def task_markdown():
    """Render the Markdown handouts: build/markdown/<lecture>.md."""
    yield from render.render_tasks(COURSE, "markdown")


def task_html():
    """Render the HTML pages: build/html/<lecture>.html."""
    yield from render.render_tasks(COURSE, "html")


def task_notebook():
    """Render the executed notebooks: build/notebooks/<lecture>.ipynb."""
    yield from render.render_tasks(COURSE, "notebook")


def task_slides():
    """Render the slide decks from the build's results: build/slides/<lecture>.html (reveal.js, one file each)."""
    yield from render.render_tasks(COURSE, "slides")


def task_pdf():
    """Print the lecture pages as PDF handouts with headless Chromium: build/pdf/<lecture>.pdf."""
    yield from render.pdf_tasks(COURSE)


def task_site():
    """Build the course site: build/site/ (open build/site/index.html, or publish it)."""
    yield from render.site_tasks(COURSE)


def task_claims():
    """Report where imported lectures' real outputs differ from what their sources showed (claims/)."""
    yield from check.claims_tasks(COURSE)


def task_publish():
    """Publish build/site/: doit publish to=FOLDER, or branch=NAME for a commit that is never pushed."""
    return publish.publish_task(COURSE, ROOT / "build")


def task_check():
    """Rebuild what is stale, then compare the outputs with the accepted snapshots and the prose with the outputs."""
    yield from check.check_tasks(COURSE, ROOT / "build")


def task_accept():
    """Accept the current outputs as the snapshots in snapshots/<device>/ (review, then commit them)."""
    yield from check.accept_tasks(COURSE, ROOT / "build")


def task_portability():
    """Where a GPU is present: run every section on the CPU and on the GPU and list what prints otherwise."""
    return check.portability_task(COURSE, ROOT / "build", DEVICE)


def task_reproduce():
    """Re-execute the built notebooks in a fresh Jupyter kernel and compare their outputs with the build."""
    return check.reproduce_task(COURSE, ROOT / "build")
