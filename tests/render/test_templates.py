"""Rendering helpers and escaping: output text can never break the page or the Markdown fence."""

from __future__ import annotations

import re

from lecturebuild.render.text import clean, fence


def test_fence_is_longer_than_any_backtick_run_inside():
    text = "a ``` b ```` c"
    fenced = fence(text, "text")
    assert fenced.startswith("`````text\n") and fenced.endswith("\n`````")
    assert fence("plain").startswith("```\n")


def test_clean_drops_colours_applies_carriage_returns_and_shows_controls():
    assert clean("\x1b[31mred\x1b[0m") == "red"
    assert clean("10%\r50%\r100%\n") == "100%\n"
    assert clean("bell\x07 nul\x00") == "bell\\x07 nul\\x00"
    assert clean("crlf\r\nnext") == "crlf\nnext"


def test_html_pages_show_markup_in_outputs_as_text(built_sample):
    course, _ = built_sample
    page = (course / "build" / "html" / "02_plots.html").read_text()
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; &lt;/code&gt; --&gt;" in page


def test_html_embeds_figures_and_styles_stderr_and_errors(built_sample):
    course, _ = built_sample
    page = (course / "build" / "html" / "02_plots.html").read_text()
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}" alt="A growing curve"', page)
    assert '<pre class="output stderr">' in page and '<pre class="output error">' in page
    assert 'class="highlight"' in page or 'class="code highlight"' in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_markdown_handout_links_figures_that_exist(built_sample):
    course, _ = built_sample
    markdown = course / "build" / "markdown"
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (markdown / "02_plots.md").read_text())
    assert links and all((markdown / link).is_file() for link in links)


def render_with_override(built_sample, tmp_path, template: str):
    """Render a copy of the built sample course with its own templates/markdown/lecture.md.j2."""
    import shutil

    from conftest import doit

    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    override = course / "templates" / "markdown" / "lecture.md.j2"
    override.parent.mkdir(parents=True)
    override.write_text(template)
    return course, doit(course, "markdown")


def test_course_template_overrides_the_builtin_by_name(built_sample, tmp_path):
    course, result = render_with_override(
        built_sample, tmp_path, '{% extends "base.j2" %}{% block heading %}=== {{ item.title }} ===\n{% endblock %}')
    assert result.returncode == 0, result.stderr
    assert "runs (" not in result.stderr  # a template edit runs no code
    handout = (course / "build" / "markdown" / "01_basics.md").read_text()
    assert handout.splitlines()[0] == "=== Tensors ==="


def test_unknown_template_attribute_names_the_template_and_line(built_sample, tmp_path):
    _, result = render_with_override(
        built_sample, tmp_path, '{% extends "base.j2" %}\n{% block heading %}\n{{ item.subtitle }}\n{% endblock %}')
    assert result.returncode != 0
    assert "templates/markdown/lecture.md.j2:3: template error: 'Heading object' has no " \
           "attribute 'subtitle'" in result.stderr


def test_run_values_and_figure_titles_are_text_in_every_format_never_markup(sample_course):
    import json
    import py_compile

    from conftest import doit

    (sample_course / "snippets" / "02_plots" / "labels.py").write_text(
        'label = "<b>bold</b> & [a link](http://x)"\nplt.figure()\nplt.plot([0, 1])\nplt.title("rate in [0, 1)")\n')
    source = sample_course / "lectures" / "02_plots.md"
    source.write_text(source.read_text().replace('title: Figures and errors', 'title: \'Figures and """errors"""\'')
                      + "\n## Labels {#labels}\n\n```{snippet} labels.py\n```\n\n"
                        "The label is {{ labels.label }}; as code, `{{ labels.label }}`.\n")
    result = doit(sample_course)
    assert result.returncode == 0, result.stderr
    handout = (sample_course / "build" / "markdown" / "02_plots.md").read_text()
    assert "![rate in \\[0, 1)](02_plots/" in handout  # an image, not a link inside an image
    assert ("The label is \\<b\\>bold\\</b\\> \\& \\[a link\\](http://x); as code, "
            "`<b>bold</b> & [a link](http://x)`.") in handout
    page = (sample_course / "build" / "html" / "02_plots.html").read_text()
    assert "The label is &lt;b&gt;bold&lt;/b&gt; &amp; [a link](http://x); as code, " in page and "<b>bold" not in page
    notebook = json.loads((sample_course / "build" / "notebooks" / "02_plots.ipynb").read_text())
    prose = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    assert "The label is \\<b\\>bold\\</b\\>" in prose
    py_compile.compile(str(sample_course / "build" / "site" / "02_plots.py"), doraise=True)  # a title with \"\"\"
