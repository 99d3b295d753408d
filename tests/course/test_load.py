"""Course loading and validation: every problem is reported at once, each with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SAMPLE
from lecturebuild.course.load import load_course
from lecturebuild.errors import CourseError

FRONT = "---\ntitle: T\norder: 1\nsummary: S\n---\n"


def make_course(root: Path, lectures: dict[str, str], snippets: dict[str, str] | None = None) -> Path:
    for name, text in lectures.items():
        path = root / "lectures" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for rel, code in (snippets or {}).items():
        path = root / "snippets" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    return root


def problems(root: Path) -> list[str]:
    with pytest.raises(CourseError) as info:
        load_course(root)
    return [f"{p.file.name}:{p.line}: {p.message}" for p in info.value.problems]


def test_sample_course_loads_with_sections_needs_and_setup():
    course = load_course(SAMPLE)
    assert course.title == "Sample course"
    assert [lec.name for lec in course.lectures] == ["01_basics", "02_plots"]
    basics = course.lectures[0]
    assert basics.seed == 7 and basics.setup.name == "setup.py"
    assert [s.id for s in basics.sections] == ["tensors", "model", "training", "summary"]
    assert basics.section("training").needs == ("model",)
    assert [s.id for s in basics.closure(basics.section("training"))] == ["model"]
    assert [s.id for s in basics.runnable] == ["tensors", "model", "training"]
    mismatch = course.lectures[1].section("mismatch")
    assert [(s.name, s.raises) for s in mismatch.snippets] == [("mismatch.py", "RuntimeError"), ("after.py", "")]


def test_section_line_numbers_and_prose_lines_point_into_the_source():
    lecture = load_course(SAMPLE).lectures[0]
    lines = lecture.source.read_text().splitlines()
    for section in lecture.sections:
        assert lines[section.line - 1].startswith("## ") and section.title in lines[section.line - 1]
        for block in section.blocks:
            assert block.text.splitlines()[0] in lines[block.line - 1] if hasattr(block, "text") else \
                f"{{snippet}} {block.name}" in lines[block.line - 1]


def test_every_problem_is_reported_at_once(tmp_path):
    lecture = FRONT + (
        "## First {#first needs=second}\n"          # line 6: needs a later section
        "```{snippet} missing.py\n```\n"            # line 7: missing snippet file
        "## Second {#second needs=nowhere}\n"       # line 9: unknown section
        "```{snippet} ../../etc/passwd.py\n```\n"   # line 10: escapes snippets/
        "## Third {#first}\n"                       # line 12: duplicate id
    )
    found = problems(make_course(tmp_path, {"lec": lecture}))
    assert found == [
        "lec.md:7: snippet file snippets/lec/missing.py does not exist",
        "lec.md:10: snippet path '../../etc/passwd.py' leaves snippets/lec/",
        "lec.md:6: section 'first' needs 'second', which comes later (line 9); a section may only build on "
        "earlier ones",
        "lec.md:9: section 'second' needs unknown section 'nowhere'",
        "lec.md:12: duplicate section id 'first' (first used on line 6)",
    ]


@pytest.mark.parametrize("front, expected", [
    ("---\ntitle: T\norder: one\nsummary: S\n---\n", "lec.md:3: 'order' must be an integer, got 'one'"),
    ("---\ntitle: T\norder: 1\n---\n", "lec.md:1: front matter lacks 'summary'"),
    ("---\ntitle: T\norder: 1\nsummary: S\ntitel: x\n---\n", "lec.md:5: unknown key 'titel'"),
    ("---\ntitle: [T\norder: 1\n---\n", "lec.md:3: invalid YAML: "),
    ("title: T\n", "lec.md:1: missing front matter"),
    ("---\ntitle: T\n", "lec.md:1: front matter is not closed"),
])
def test_bad_front_matter_is_reported_with_its_line(tmp_path, front, expected):
    found = problems(make_course(tmp_path, {"lec": front + "Text.\n"}))
    assert any(p.startswith(expected) for p in found), found


def test_duplicate_lecture_order(tmp_path):
    found = problems(make_course(tmp_path, {"a": FRONT, "b": FRONT}))
    assert found == ["b.md:1: order 1 is also used by a.md"]


@pytest.mark.parametrize("body, expected", [
    ("```{snippet} a.py\n```\n", "lec.md:6: a {snippet} must be inside a section"),
    ("# Title\n", "lec.md:6: '#' headings are not allowed"),
    ("## S {#s}\n```{snippet} a.py\n:raise: ValueError\n```\n", "lec.md:8: unknown snippet option 'raise'"),
    ("## S {#s}\n```{snippet} a.py\nprint(1)\n```\n", "lec.md:8: a {snippet} block holds only"),
    ("## S {#s timeout=3}\n", "lec.md:6: unknown section attribute 'timeout'"),
    ("## S {#Bad-Id}\n", "lec.md:6: section id 'Bad-Id' must be"),
    ("## S {#s}\n```{snippet} a.py\n```\n```{snippet} a.py\n```\n", "lec.md:9: snippet snippets/lec/a.py is already used"),
    ("## S {#s}\nText {{ nowhere.x }}.\n", "lec.md:7: unknown section 'nowhere' in a quoted value"),
    ("## S {#s}\nOne.\nTwo {{ s.x \n", "lec.md:8: template error in the prose"),
    ("## S {#s}\n```python\n```{snippet} a.py\n", "lec.md:7: code fence is never closed"),
])
def test_body_problems_are_reported_with_their_line(tmp_path, body, expected):
    found = problems(make_course(tmp_path, {"lec": FRONT + body}, {"lec/a.py": "x = 1\n"}))
    assert any(p.startswith(expected) for p in found), found


def test_headings_and_directives_inside_code_fences_are_prose(tmp_path):
    body = "## S {#s}\n````markdown\n## Not a section\n```{snippet} nope.py\n```\n````\n"
    course = load_course(make_course(tmp_path, {"lec": FRONT + body}))
    (section,) = course.lectures[0].sections
    assert section.snippets == () and "## Not a section" in section.blocks[0].text


def test_section_id_defaults_to_the_title_as_an_identifier(tmp_path):
    course = load_course(make_course(tmp_path, {"lec": FRONT + "## 2.1 PyTorch's nn.RNN\n"}))
    assert course.lectures[0].sections[0].id == "s2_1_pytorch_s_nn_rnn"


def test_course_config_unknown_key(tmp_path):
    make_course(tmp_path, {"lec": FRONT})
    (tmp_path / "course.yml").write_text("title: C\nauthor: me\n")
    assert problems(tmp_path) == ["course.yml:2: unknown key 'author' (known keys: description, executor, pdf, "
                                  "scheduler, slides, title)"]


def test_course_config_executor_must_be_known(tmp_path):
    make_course(tmp_path, {"lec": FRONT})
    (tmp_path / "course.yml").write_text("title: C\nexecutor: slurm\n")
    assert problems(tmp_path) == ["course.yml:2: 'executor' must be one of local, dask, got 'slurm'"]


def test_broken_and_unknown_names_in_templates_are_course_errors(tmp_path):
    make_course(tmp_path, {"lec": FRONT})
    broken = tmp_path / "templates" / "markdown" / "lecture.md.j2"
    broken.parent.mkdir(parents=True)
    broken.write_text('{% extends "base.j2" %}\n{% block heading %}\n{{ item.title }\n{% endblock %}\n')
    (tmp_path / "templates" / "extra.j2").write_text("{{ lectur.title }}\n")
    found = problems(tmp_path)
    assert len(found) == 2
    assert any(p.startswith("lecture.md.j2:3: template error: unexpected '}'") for p in found)
    assert any(p.startswith("extra.j2:1: template uses unknown variable 'lectur'") for p in found)


def test_a_snippets_folder_linking_out_of_the_course_and_a_course_yml_not_in_utf8_are_reported(sample_course, tmp_path):
    from conftest import doit

    outside = tmp_path / "elsewhere"
    (sample_course / "snippets" / "02_plots").rename(outside)
    (sample_course / "snippets" / "02_plots").symlink_to(outside)
    (sample_course / "course.yml").write_bytes("title: Caf\xe9\n".encode("latin-1"))
    result = doit(sample_course)
    assert result.returncode == 2
    assert "course.yml: not valid UTF-8: invalid continuation byte at byte 10; save it as UTF-8" in result.stderr
    assert "lectures/02_plots.md:13: snippet 'curve.py' is " in result.stderr
    assert "outside the course folder (is snippets/02_plots a link out of it?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_tolerances_must_be_finite(sample_course):
    from conftest import doit

    source = sample_course / "lectures" / "01_basics.md"
    source.write_text(source.read_text().replace("seed: 7\n", "seed: 7\nplatform_tolerance: .nan\n")
                      .replace("{#training needs=model}", "{#training needs=model platform_tolerance=inf}"))
    result = doit(sample_course)
    assert result.returncode == 2
    assert "lectures/01_basics.md:7: 'platform_tolerance' must be a positive, finite number, got nan" in result.stderr
    assert "platform_tolerance must be a positive number, got 'inf'" in result.stderr


def test_a_snippet_block_that_is_not_placed_is_an_error(tmp_path):
    body = ("## S {#s}\n~~~~~~~~\n```{snippet} lost.py\n```\n~~~~~~~~\n"  # a reST underline read as a fence
            "    ```{snippet} indented.py\n    ```\n"
            "````markdown\n```{snippet} example.py\n```\n````\n")  # a labelled fence shows an example: fine
    make_course(tmp_path, {"lec": FRONT + body})
    found = problems(tmp_path)
    assert len(found) == 2, found
    assert found[0].startswith("lec.md:8: this {snippet} block is not placed: it is inside the fence opened on line 7")
    assert found[1].startswith("lec.md:11: this {snippet} block is not placed: it is indented four spaces")


def test_a_sequential_lecture_needs_every_earlier_section(tmp_path):
    body = "## A {#a}\n```{snippet} a.py\n```\n## B {#b}\n```{snippet} b.py\n```\n## C {#c needs=a}\n```{snippet} c.py\n```\n"
    snippets = {f"lec/{n}.py": "print(1)\n" for n in "abc"}
    make_course(tmp_path, {"lec": FRONT.replace("---\n", "---\nsequential: true\n", 1) + body}, snippets)
    lecture = load_course(tmp_path).lectures[0]
    assert lecture.sequential and [s.needs for s in lecture.sections] == [(), ("a",), ("a", "b")]
    make_course(tmp_path, {"lec": FRONT.replace("---\n", "---\nsequential: yes please\n", 1) + body})
    assert problems(tmp_path) == ["lec.md:2: 'sequential' must be true or false, got 'yes please'"]


def test_slide_blocks_that_would_show_as_code_or_in_the_handout_are_errors(tmp_path):
    make_course(tmp_path, {"lec": FRONT.replace("summary: S", "summary: S\nslides: true") + (
        "## First {#first}\n"                      # line 7
        "```{slide} Key points\n- a\n```\n"       # line 8: a title after {slide}
        "```{slides}\n- b\n```\n"                 # line 11: misspelt
        "> ```{slide}\n> - c\n> ```\n"            # line 14: in a quote
        "- item\n\n    ```{slide}\n    - d\n    ```\n"  # line 19: indented into a list item
        "```{slide}\n- never closed\n")})         # line 22
    assert problems(tmp_path) == [
        "lec.md:5: 'slides' must be one of all, outputs, code, prose, none (what the lecture's slides show; "
        "course.yml's `slides: true` makes every build write the decks), got True",
        "lec.md:8: '```{slide} Key points' is neither '```{snippet} file.py' nor '```{slide}' (which takes nothing "
        "after it); it would show as a code block",
        "lec.md:11: '```{slides}' is neither '```{snippet} file.py' nor '```{slide}' (which takes nothing after it); "
        "it would show as a code block",
        "lec.md:14: this {slide} block is not placed: it is in a quote ('>'); it would show as text in the handout "
        "and on no slide",
        "lec.md:19: this {slide} block is not placed: it is indented four spaces or more (in a list item, say), so "
        "Markdown reads it as text; it would show as text in the handout and on no slide",
        "lec.md:22: code fence is never closed"]


def test_an_unknown_filter_in_the_prose_or_a_template_is_a_problem_with_its_line(sample_course):
    from conftest import doit

    source = sample_course / "lectures" / "01_basics.md"
    lines = source.read_text().splitlines()
    at = lines.index("The model has {{ model.params | thousands }} parameters.")
    lines[at] = "The model has {{ model.params | nofilter }} parameters."
    source.write_text("\n".join(lines) + "\n")
    override = sample_course / "templates" / "markdown" / "lecture.md.j2"
    override.parent.mkdir(parents=True)
    override.write_text('{% extends "base.j2" %}\n{% block heading %}\n{{ item.title | nofilt }}\n{% endblock %}\n')
    result = doit(sample_course)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"lectures/01_basics.md:{at + 1}: template error in the prose: No filter named 'nofilter'" in result.stderr
    assert "lecture.md.j2:3: template error: No filter named 'nofilt'" in result.stderr
