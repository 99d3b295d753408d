"""Slide decks, through doit: what each slide shows, speaker notes, long code split and never cut, no re-runs."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import html5lib
from conftest import doit

from lecturebuild.render.slides import SLIDE_LINES, _chunks

XHTML = "{http://www.w3.org/1999/xhtml}"
MATHML = "{http://www.w3.org/1998/Math/MathML}"


def deck_of(course: Path, lecture: str, folder: str = "slides") -> dict[str, object]:
    """The deck's slides by id, as element trees (html5lib's strict parser rejects invalid HTML5)."""
    tree = html5lib.HTMLParser(strict=True).parse((course / "build" / folder / f"{lecture}.html").read_bytes())
    return {s.get("id"): s for s in tree.iter(f"{XHTML}section")}


def text(element) -> str:
    return "".join(element.itertext())


def shown(slide) -> str:
    """What the slide shows: everything but its speaker notes."""
    return "".join(text(child) for child in slide if child.tag != f"{XHTML}aside")


def notes(slide) -> str:
    return "".join(text(child) for child in slide if child.tag == f"{XHTML}aside")


def result(course: Path, lecture: str, section: str) -> dict:
    return json.loads((course / "build" / "results" / lecture / f"{section}.json").read_text())


def test_a_deck_per_lecture_with_a_slide_per_section_and_the_prose_as_notes(built_sample):
    course, _ = built_sample
    basics = deck_of(course, "01_basics")
    assert list(basics) == ["lecture-title", "lecture-setup", "tensors", "model", "training", "summary"]
    title = basics["lecture-title"]
    assert "Tensors and a tiny model" in shown(title) and "real run on CPU" in shown(title)
    assert "Its parameter count, 8, is quoted" in notes(title)  # the intro's prose, values filled in
    assert "import torch" in shown(basics["lecture-setup"])
    tensors = basics["tensors"]
    assert "x = torch.randn(4, 3)" in shown(tensors) and "x: torch.Size([4, 3])" in shown(tensors)
    assert "A batch of inputs" in notes(tensors) and "A batch of inputs" not in shown(tensors)
    assert "The batch has shape torch.Size([4, 3])" in notes(tensors)
    # The section without code shows its prose; a section with a {slide} block shows that text.
    assert "prose only" in shown(basics["summary"])
    model = basics["model"]
    params = result(course, "01_basics", "model")["values"]["params"]
    assert f"{params:,} parameters, counted by the run" in shown(model)  # a quoted value in slide text
    body = next(child for child in model if child.get("class") == "slide-body")
    aside = next(child for child in model if child.tag == f"{XHTML}aside")
    assert [m.get("display") for m in body.iter(f"{MATHML}math")] == ["block"]  # the {slide} block's formula
    assert [m.get("display") for m in aside.iter(f"{MATHML}math")] == ["inline", "block"]  # the prose's, as notes
    assert "mean squared error" in notes(model)


def test_outputs_mode_hides_code_and_a_figure_gets_a_slide_of_its_own(built_sample):
    course, _ = built_sample
    plots = deck_of(course, "02_plots")
    assert list(plots) == ["lecture-title", "lecture-setup", "figure", "figure-2", "mismatch", "markup"]
    assert "as students will see them" in shown(plots["lecture-title"])  # the intro's {slide} block
    markup = plots["markup"]  # slide=outputs
    assert not [p for p in markup.iter(f"{XHTML}pre") if "code" in p.get("class")]
    assert "<script>alert('x')</script>" in shown(markup)  # printed text, not markup
    assert not [s for s in markup.iter(f"{XHTML}script")]
    assert "Expected error: RuntimeError" in shown(plots["mismatch"])
    images = list(plots["figure-2"].iter(f"{XHTML}img"))
    assert len(images) == 1 and "2/2" in shown(plots["figure-2"])
    figure = next(o for o in result(course, "02_plots", "figure")["runs"][0]["outputs"] if o["kind"] == "figure")
    png = (course / "build" / "results" / "02_plots" / "figures" / figure["file"]).read_bytes()
    assert images[0].get("src") == "data:image/png;base64," + base64.b64encode(png).decode()


def test_slide_text_is_never_in_the_handout_page_or_notebook(built_sample):
    course, _ = built_sample
    for built in ("markdown/01_basics.md", "html/01_basics.html", "notebooks/01_basics.ipynb", "site/01_basics.html",
                  "site/search-index.js"):
        assert "counted by the run" not in (course / "build" / built).read_text(), built
    assert "counted by the run" in (course / "build" / "slides" / "01_basics.html").read_text()


def test_the_site_carries_and_links_each_deck(built_sample):
    course, _ = built_sample
    site = course / "build" / "site"
    for lecture in ("01_basics", "02_plots"):
        assert (site / "slides" / f"{lecture}.html").read_bytes() == \
            (course / "build" / "slides" / f"{lecture}.html").read_bytes()
        assert f'<a href="slides/{lecture}.html">Slides</a>' in (site / f"{lecture}.html").read_text()
        assert f'href="slides/{lecture}.html"' in (site / "index.html").read_text()


LONG_CODE = "\n".join(f"value_{i} = {i} * 2  # line {i + 1}" for i in range(30)) + "\n\n" + \
    "\n".join(f"value_{i} = {i} * 2" for i in range(30, 40)) + "\nfor i in range(45):\n    print(f'row {i}: {i * i}')\n"


POINTS = [f"point {n} of a list too long for one slide, " + "with words " * 8 for n in range(1, 15)]
PARAGRAPHS = [f"Point {n}: " + "a sentence that takes up room on the slide, " * 4 + "and ends." for n in range(1, 9)]


def long_course(root: Path) -> Path:
    (root / "lectures").mkdir(parents=True)
    (root / "snippets" / "long").mkdir(parents=True)
    (root / "course.yml").write_text("title: Long\n")
    (root / "lectures" / "long.md").write_text(
        "---\ntitle: Long material\norder: 1\nsummary: Code and output longer than a slide.\n---\n"
        "## A long listing {#listing}\n\nThe listing defines forty values, then prints a table.\n\n"
        "```{snippet} listing.py\n```\n\nThat was long.\n\n"
        "## Left out {#skipped slide=none}\n\n```{snippet} skipped.py\n```\n"
        "## A wide line {#wide}\n\n```{snippet} wide.py\n```\n"
        "## Wrap-up {#wrapup}\n\n" + "\n\n".join(PARAGRAPHS) + "\n"
        "## Points {#points}\n\nSpoken, not shown.\n\n```{slide}\n" + "".join(f"1. {p}\n" for p in POINTS) + "```\n")
    (root / "snippets" / "long" / "wide.py").write_text("print('w' * 130)\n")
    (root / "snippets" / "long" / "listing.py").write_text(LONG_CODE)
    (root / "snippets" / "long" / "skipped.py").write_text("print('not on a slide')\n")
    return root


def test_long_code_and_output_go_on_over_slides_and_nothing_is_cut(tmp_path):
    course = long_course(tmp_path / "course")
    first = doit(course)
    assert first.returncode == 0, first.stdout + first.stderr
    assert not (course / "build" / "slides").exists()  # course.yml does not ask for decks
    assert "Slides" not in (course / "build" / "site" / "long.html").read_text()

    result = doit(course, "slides")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runs (" not in result.stderr  # the deck comes from the build's results
    deck = deck_of(course, "long")
    listing = [s for sid, s in deck.items() if sid.startswith("listing")]
    assert [s.get("id") for s in listing] == ["listing", "listing-2", "listing-3", "listing-4", "listing-5"]
    assert "skipped" not in deck and "not on a slide" not in (course / "build" / "slides" / "long.html").read_text()
    code, output = [], []
    for slide in listing:
        for pre in slide.iter(f"{XHTML}pre"):
            lines = text(pre).rstrip("\n").split("\n")
            assert len(lines) <= SLIDE_LINES
            (code if "code" in pre.get("class") else output).extend(lines)
    assert [line for line in code if line] == [line for line in LONG_CODE.split("\n") if line]  # all, once
    assert output == [f"row {i}: {i * i}" for i in range(45)]
    captions = [text(p) for s in listing for p in s.iter(f"{XHTML}p") if "caption" in (p.get("class") or "")]
    # Runs of about even length, each at most SLIDE_LINES (22); the blank line (31) is in no run's second half.
    assert captions == ["listing.py, lines 1-22 of 43", "listing.py, lines 23-43 of 43",
                        "output, lines 1-15 of 45", "output, lines 16-30 of 45", "output, lines 31-45 of 45"]
    assert "The listing defines forty values" in notes(listing[0]) and "That was long" in notes(listing[-1])
    assert all(re.search(rf"{n}/5", shown(s)) for n, s in enumerate(listing, 1))
    # A section without code shows its prose, which goes on over slides between paragraphs.
    wrapup = [s for sid, s in deck.items() if sid.startswith("wrapup")]
    assert len(wrapup) > 1
    paragraphs = [[text(p) for p in s.iter(f"{XHTML}p") if text(p).startswith("Point")] for s in wrapup]
    assert [p for slide in paragraphs for p in slide] == PARAGRAPHS and all(paragraphs)
    # A list too long for a slide goes on over slides between its items, keeping their numbers.
    points = [s for sid, s in deck.items() if sid.startswith("points")]
    assert len(points) > 1 and "Spoken, not shown." in notes(points[0])
    items = [text(li).strip() for s in points for li in s.iter(f"{XHTML}li")]
    assert items == [p.strip() for p in POINTS]
    starts = [int(ol.get("start", 1)) for s in points for ol in s.iter(f"{XHTML}ol")]
    assert starts == list(range(1, len(POINTS) + 1))
    # A line too wide for the slide at the usual 20 px is set smaller, so that it fits (96 characters at 20 px).
    cells = [c for c in deck["wide"].iter(f"{XHTML}div") if c.get("class") == "cell"]
    assert [c.get("style") for c in cells] == ["--code-px: 20px", "--code-px: 14px"]  # the code stays large
    assert [c.get("style") for c in listing[0].iter(f"{XHTML}div") if c.get("class") == "cell"] == ["--code-px: 20px"]


def test_rebuilding_slides_runs_no_section_and_follows_edited_prose(built_sample, tmp_path):
    import shutil

    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    results = {p: p.stat().st_mtime_ns for p in (course / "build" / "results").rglob("*.json")}
    lecture = course / "lectures" / "01_basics.md"
    lecture.write_text(lecture.read_text().replace("counted by the run", "every one of them trained"))
    result = doit(course, "slides")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runs (" not in result.stderr
    assert {p: p.stat().st_mtime_ns for p in (course / "build" / "results").rglob("*.json")} == results
    assert "every one of them trained" in shown(deck_of(course, "01_basics")["model"])


def test_bad_slide_markup_is_reported_with_file_and_line_and_nothing_runs(sample_course):
    source = sample_course / "lectures" / "01_basics.md"
    text_ = source.read_text().replace("{#training needs=model}", "{#training needs=model slide=sometimes}")
    text_ = text_.replace("Nothing runs here; it is prose only.", "```{slide}\n```\n")
    source.write_text(text_.replace("seed: 7", "seed: 7\nslides: everything"))
    (sample_course / "course.yml").write_text("title: Sample\nslides: yes please\n")
    result = doit(sample_course)
    assert result.returncode != 0
    assert "lecturebuild: the course has 4 problems:" in result.stderr
    assert "course.yml:2: 'slides' must be true or false, got 'yes please'" in result.stderr
    assert "lectures/01_basics.md:7: 'slides' must be one of all, outputs, code, prose, none (what the lecture's " \
           "slides show), got 'everything'" in result.stderr
    assert "lectures/01_basics.md:44: slide must be one of all, outputs, code, prose, none" in result.stderr
    assert "lectures/01_basics.md:55: this {slide} block is empty" in result.stderr
    assert not (sample_course / "build" / "results").exists()


def test_a_slide_that_fails_to_render_holds_back_neither_the_page_nor_the_pdf_and_a_lecture_can_have_none(
        built_sample, tmp_path):
    import shutil

    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    (course / "course.yml").write_text((course / "course.yml").read_text() + "pdf: true\n")
    basics = course / "lectures" / "01_basics.md"
    basics.write_text(basics.read_text().replace("counted by the run.", "counted by the run, {{ model.nosuch }}.")
                      .replace("The batch has shape", "The whole batch has shape"))
    plots = course / "lectures" / "02_plots.md"
    plots.write_text(plots.read_text().replace("summary: A figure", "slides: none\nsummary: A figure"))
    result = doit(course)
    assert result.returncode != 0
    assert "lecturebuild: 1 task failed" in result.stdout and "- slides:01_basics" in result.stdout
    assert "lectures/01_basics.md:" in result.stdout and "nosuch" in result.stdout
    site = course / "build" / "site"
    assert "The whole batch has shape" in (site / "01_basics.html").read_text()  # the page is up to date
    from pypdf import PdfReader

    assert "The whole batch has shape" in "".join(p.extract_text() for p in PdfReader(site / "01_basics.pdf").pages)
    assert "counted by the run." in (site / "slides" / "01_basics.html").read_text()  # the previous deck stays
    assert not (site / "slides" / "02_plots.html").exists() and "Slides" not in (site / "02_plots.html").read_text()
    assert 'href="slides/02_plots.html"' not in (site / "index.html").read_text()


def test_a_run_of_lines_ends_between_blocks_rather_than_inside_one():
    function = ["def f(x):", "    y = x + 1", "    return y", ""]
    script = function * 6 + ["print(f(1))"]  # 25 lines, a blank line after every function
    runs = [(start, len(chunk)) for start, chunk, _ in _chunks(script, 20, "lines")]
    assert runs == [(0, 12), (12, 13)]  # even runs (13), the first ending after a blank line in its second half
    block = ["for i in range(3):"] + ["    step(i)"] * 6 + ["print('done')"] + ["    more(i)"] * 12
    runs = [(start, len(chunk)) for start, chunk, _ in _chunks(block, 12, "lines")]
    assert runs[0] == (0, 7) and block[7] == "print('done')"  # before the least indented line, not at 10


def test_publishing_brings_the_decks_up_to_date_first(built_sample, tmp_path):
    import shutil

    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    lecture = course / "lectures" / "01_basics.md"
    lecture.write_text(lecture.read_text().replace("counted by the run", "as the run counted them"))
    target = tmp_path / "www"
    result = doit(course, "publish", f"to={target}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "as the run counted them" in (target / "slides" / "01_basics.html").read_text()
