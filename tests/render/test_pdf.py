"""Printable handouts, through doit and the real headless Chromium: read back with pypdf."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import copy_course, doit
from pypdf import PdfReader


def results(course: Path, lecture: str) -> list[dict]:
    folder = course / "build" / "results" / lecture
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json")) if not p.name.startswith(".")]


def figures(course: Path, lecture: str) -> int:
    return sum(o["kind"] == "figure" for r in results(course, lecture) for run in r["runs"] for o in run["outputs"])


def test_doit_pdf_prints_each_lecture_of_the_shipped_course_without_running_it(built_course, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_course, course)
    stored = {p: p.stat().st_mtime_ns for p in (course / "build" / "results").rglob("*.json")}
    result = doit(course, "pdf")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runs (" not in result.stderr
    assert {p: p.stat().st_mtime_ns for p in (course / "build" / "results").rglob("*.json")} == stored
    for lecture in ("01_rnns_lstms", "02_vanilla_to_lstm", "03_practice"):
        reader = PdfReader(course / "build" / "pdf" / f"{lecture}.pdf")
        pages = len(reader.pages)
        handout = (course / "build" / "markdown" / f"{lecture}.md").read_text()
        assert 2 <= pages <= handout.count("\n") // 20, (lecture, pages)  # an A4 page holds far more than 20 lines
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert f"page 1 of {pages}" in text and f"page {pages} of {pages}" in text
        assert "outputs from a real run on CPU" in text  # the provenance, at the foot of every page
        assert "Execution report" not in text and "executed, with these outputs" not in text  # no navigation
        assert sum(len(page.images) for page in reader.pages) == figures(course, lecture), lecture
    classifier = json.loads((course / "build" / "results" / "01_rnns_lstms" / "classifier.json").read_text())
    text = "\n".join(page.extract_text() for page in PdfReader(course / "build" / "pdf" / "01_rnns_lstms.pdf").pages)
    assert f"{classifier['values']['params']:,} parameters" in text
    assert figures(course, "02_vanilla_to_lstm") > 0


def test_without_a_browser_doit_pdf_says_how_to_install_one_and_keeps_the_previous_pdf(built_sample, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    previous = course / "build" / "pdf" / "01_basics.pdf"
    previous.parent.mkdir()
    previous.write_bytes(b"%PDF-1.4 an earlier handout")
    result = doit(course, "pdf:01_basics", env={"PATH": str(tmp_path / "nothing-here")})
    assert result.returncode != 0
    assert "doit pdf prints the lecture pages with headless Chromium, and none was found" in result.stderr
    assert "apt-get install chromium" in result.stderr
    assert previous.read_bytes() == b"%PDF-1.4 an earlier handout"
    result = doit(course, "pdf:01_basics", env={"LECTUREBUILD_CHROMIUM": str(tmp_path / "no-browser")})
    assert result.returncode != 0
    assert f"LECTUREBUILD_CHROMIUM={tmp_path / 'no-browser'} is not a program this machine can run" in result.stderr


def test_pdf_true_in_course_yml_prints_with_every_build_and_the_site_offers_it(tmp_path):
    course = copy_course(tmp_path / "course")
    (course / "course.yml").write_text((course / "course.yml").read_text() + "pdf: true\n")
    first = doit(course)
    assert first.returncode == 0, first.stdout + first.stderr
    site = course / "build" / "site"
    for lecture in ("01_basics", "02_plots"):
        printed = course / "build" / "pdf" / f"{lecture}.pdf"
        assert printed.read_bytes()[:5] == b"%PDF-" and (site / f"{lecture}.pdf").read_bytes() == printed.read_bytes()
        assert f'<a href="{lecture}.pdf" download>PDF</a>' in (site / f"{lecture}.html").read_text()
    assert len(PdfReader(site / "02_plots.pdf").pages[0].images) == figures(course, "02_plots") == 1

    again = doit(course)
    assert again.returncode == 0 and all(line.startswith("-- ") for line in again.stdout.splitlines() if line.strip())

    lecture = course / "lectures" / "01_basics.md"
    lecture.write_text(lecture.read_text().replace("Nothing runs here; it is prose only.", "Edited after the build."))
    edited = doit(course)
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "runs (" not in edited.stderr and ".  pdf:01_basics" in edited.stdout and "pdf:02_plots" not in \
        [line[3:] for line in edited.stdout.splitlines() if line.startswith(".  ")]
    text = "\n".join(page.extract_text() for page in PdfReader(site / "01_basics.pdf").pages)
    assert "Edited after the build." in text
