"""The course site built from the sample course: pages, links, escaping, report, search, publishing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import html5lib
import nbformat
from conftest import as_if_the_worker_wrote, doit

XHTML = "{http://www.w3.org/1999/xhtml}"


def site_of(course: Path) -> Path:
    return course / "build" / "site"


def parse(path: Path):
    """The page as an element tree; html5lib's strict mode raises on anything that is not valid HTML5 syntax."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=True)
    return parser.parse(path.read_bytes())


def pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html"))


def test_site_has_every_page_and_download(built_sample):
    course, _ = built_sample
    site = site_of(course)
    names = ["01_basics", "02_plots"]
    assert sorted(p.name for p in pages(site)) == sorted([f"{n}.html" for n in names] + ["index.html", "report.html"])
    for name in names:
        assert (site / f"{name}.md").read_bytes() == (course / "build" / "markdown" / f"{name}.md").read_bytes()
        notebook = nbformat.read(site / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        compile((site / f"{name}.py").read_text(), f"{name}.py", "exec")  # the script is valid Python
    assert (site / "search-index.js").is_file() and (site / "assets" / "site.css").is_file()


def test_every_page_parses_as_html5(built_sample):
    for page in pages(site_of(built_sample[0])):
        parse(page)  # raises ParseError with the position on invalid markup


def test_every_internal_link_and_image_resolves_and_nothing_is_fetched_from_outside(built_sample):
    site = site_of(built_sample[0])
    ids = {page.name: {e.get("id") for e in parse(page).iter() if e.get("id")} for page in pages(site)}
    checked = 0
    for page in pages(site):
        for element in parse(page).iter():
            for attribute in ("href", "src"):
                target = element.get(attribute)
                if target is None:
                    continue
                parts = urlsplit(target)
                assert not parts.scheme and not parts.netloc, f"{page.name}: {attribute}={target} leaves the site"
                path = unquote(parts.path) or page.name
                assert (site / path).is_file(), f"{page.name}: {attribute}={target} points at nothing"
                if parts.fragment:
                    assert parts.fragment in ids[path], f"{page.name}: {target}: no such anchor"
                checked += 1
    assert checked > 40
    for asset in (site / "assets").iterdir():
        assert not re.search(r"https?://|url\(\s*['\"]?//", asset.read_text()), f"{asset.name} fetches from outside"


def test_output_that_looks_like_markup_is_text_on_every_page(built_sample):
    site = site_of(built_sample[0])
    printed = "<script>alert('x')</script> & <b>bold</b>"
    for page in pages(site):
        tree = parse(page)
        scripts = [e for e in tree.iter(f"{XHTML}script") if e.get("src") is None]
        assert all("alert" not in (e.text or "") for e in scripts), page.name
        assert not list(tree.iter(f"{XHTML}b")), f"{page.name}: output became markup"
    plots = parse(site / "02_plots.html")
    outputs = ["".join(e.itertext()) for e in plots.iter(f"{XHTML}pre") if "output" in e.get("class", "")]
    assert any(printed in text for text in outputs)
    entries = json.loads((site / "search-index.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert any(printed.split(" &")[0] in entry["code"] or "markup" in entry["title"].lower() for entry in entries)


def test_index_lists_the_lectures_in_order_with_provenance(built_sample):
    course, _ = built_sample
    site = site_of(course)
    text = " ".join("".join(parse(site / "index.html").itertext()).split())
    assert "Sample course" in text and "Two tiny lectures that exercise every part of the pipeline." in text
    first, second = text.index("Tensors and a tiny model"), text.index("Figures and errors")
    assert first < second
    assert "Shapes, a linear model and a short training loop." in text
    result = json.loads((course / "build" / "results" / "01_basics" / "model.json").read_text())
    assert f"torch {result['device']['torch']}" in text and result["device"]["name"] in text


def test_lecture_page_has_contents_navigation_math_and_run_details(built_sample):
    site = site_of(built_sample[0])
    tree = parse(site / "01_basics.html")
    toc = [a.get("href") for a in tree.iter(f"{XHTML}a") if (a.get("href") or "").startswith("#")]
    assert {"#tensors", "#model", "#training"} <= set(toc)
    links = {a.get("href") for a in tree.iter(f"{XHTML}a")}
    assert "02_plots.html" in links  # next lecture
    assert {"01_basics.ipynb", "01_basics.md", "01_basics.py"} <= links
    maths = list(tree.iter("{http://www.w3.org/1998/Math/MathML}math"))
    assert len(maths) == 2 and any(m.find(".//{http://www.w3.org/1998/Math/MathML}mtable") is not None for m in maths)
    run_info = [" ".join(e.itertext()) for e in tree.iter(f"{XHTML}p") if e.get("class") == "run-info"]
    assert len(run_info) == 3 and all(re.match(r"ran in [\d.]+ m?s on CPU", line) for line in run_info)
    plots = parse(site / "02_plots.html")
    labels = ["".join(e.itertext()) for e in plots.iter(f"{XHTML}p") if "label-error" in e.get("class", "")]
    assert labels == ["Expected error: RuntimeError"]
    images = [img.get("src") for img in plots.iter(f"{XHTML}img")]
    assert images and all((site / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for src in images)


def report_rows(site: Path) -> list[list[str]]:
    tree = parse(site / "report.html")
    body = next(tree.iter(f"{XHTML}tbody"))
    return [[" ".join("".join(td.itertext()).split()) for td in tr.iter(f"{XHTML}td")] for tr in body]


def seconds(text: str) -> float:
    value, unit = text.split()
    return float(value) / (1000 if unit == "ms" else 1)


def test_report_lists_every_section_slowest_first_with_cache_status(built_sample, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    rows = report_rows(site_of(course))
    assert len(rows) == 8  # 2 setups and 6 sections
    times = [seconds(row[2]) for row in rows]
    assert times == sorted(times, reverse=True)
    assert all(row[6].startswith("ran") for row in rows)  # the cold build ran everything

    snippet = course / "snippets" / "01_basics" / "tensors.py"
    snippet.write_text(snippet.read_text() + "\nprint('one more line')\n")
    assert doit(course).returncode == 0
    status = {row[1]: row[6] for row in report_rows(site_of(course))}
    assert status["Tensors"].startswith("ran") and "snippet code" in status["Tensors"]
    assert all(value.startswith("cached") for name, value in status.items() if name != "Tensors")


def test_report_shows_what_a_run_noticed(built_sample, tmp_path):
    """A note the worker records (on CUDA, a section that never used the GPU: a result like the one it
    writes there) is shown beside the section in the report."""
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    path = course / "build" / "results" / "01_basics" / "tensors.json"
    result = json.loads(path.read_text())
    result["notes"] = ["ran on CUDA but never used the GPU: its models and tensors stayed on the CPU"]
    path.write_text(json.dumps(result))
    as_if_the_worker_wrote(course, "01_basics", "tensors")
    assert doit(course, "site").returncode == 0
    rows = {"".join(r.find(f"{XHTML}td/{XHTML}a").itertext()): "".join(r.itertext())
            for r in parse(site_of(course) / "report.html").iter(f"{XHTML}tr") if r.find(f"{XHTML}td") is not None}
    assert "Note: ran on CUDA but never used the GPU" in rows["Tensors"]
    assert "Note:" not in rows["A linear model"]


def test_search_index_holds_prose_words_not_markup_or_latex(built_sample):
    site = site_of(built_sample[0])
    entries = json.loads((site / "search-index.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    model = next(e for e in entries if e["title"] == "A linear model")
    assert "mean squared error" in model["text"] and model["href"] == "01_basics.html#model"
    assert "\\frac" not in model["text"] and "<" not in model["text"]
    assert "nn.Linear" in model["code"]


def test_a_failed_lecture_keeps_its_page(built_sample, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    kept = [site_of(course) / name for name in ("01_basics.html", "search-index.js")]  # the index is updated
    before = [path.read_text() for path in kept]
    (course / "snippets" / "01_basics" / "tensors.py").write_text("raise ValueError('broken')\n")
    result = doit(course)
    assert result.returncode != 0 and "ValueError: broken" in result.stdout
    assert [path.read_text() for path in kept] == before


# ----------------------------------------------------------------------------------------------
# Publishing


def test_publish_to_a_folder_replaces_only_what_it_published(built_sample, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    target = tmp_path / "www"
    result = doit(course, "publish", f"to={target}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "index.html").read_bytes() == (site_of(course) / "index.html").read_bytes()
    (target / "stale.html").write_text("from an older publish")
    assert doit(course, "publish", f"to={target}").returncode == 0
    assert not (target / "stale.html").exists()

    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    refused = doit(course, "publish", f"to={foreign}")
    assert refused.returncode != 0 and "was not published by lecturebuild" in refused.stdout + refused.stderr
    assert (foreign / "thesis.tex").read_text() == "keep me" and not (foreign / "index.html").exists()


GIT_ENV = {"GIT_AUTHOR_NAME": "Instructor", "GIT_AUTHOR_EMAIL": "i@example.org",
           "GIT_COMMITTER_NAME": "Instructor", "GIT_COMMITTER_EMAIL": "i@example.org"}


def git(course: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=course, capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENV}).stdout


def test_publish_to_a_branch_commits_without_touching_the_working_tree(built_sample, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    git(course, "init", "-q", "-b", "main")
    (course / ".gitignore").write_text("build/\n")
    git(course, "add", ".")
    git(course, "commit", "-q", "-m", "course")
    (course / "lectures" / "notes.txt").write_text("uncommitted work")
    status, head = git(course, "status", "--porcelain"), git(course, "rev-parse", "HEAD")

    result = doit(course, "publish", "branch=gh-pages", env=GIT_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not pushed" in result.stdout + result.stderr
    assert git(course, "status", "--porcelain") == status and git(course, "rev-parse", "HEAD") == head
    files = set(git(course, "ls-tree", "-r", "--name-only", "gh-pages").split())
    assert {"index.html", "01_basics.html", "report.html", ".nojekyll"} <= files
    assert not any(name.startswith("build/") for name in files)
    assert git(course, "show", "gh-pages:index.html") == (site_of(course) / "index.html").read_text()
    first = git(course, "rev-parse", "gh-pages")

    again = doit(course, "publish", "branch=gh-pages", env=GIT_ENV)
    assert "nothing committed" in again.stdout + again.stderr and git(course, "rev-parse", "gh-pages") == first


def test_publish_refuses_a_failed_build_unless_forced(built_sample, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    (course / "snippets" / "02_plots" / "after.py").write_text("undefined_name\n")
    target = tmp_path / "www"
    refused = doit(course, "publish", f"to={target}")
    assert refused.returncode != 0 and not target.exists()
    assert "NameError" in refused.stdout + refused.stderr
    forced = doit(course, "publish", f"to={target}", "force=1")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert (target / "02_plots.html").is_file()
    assert "publishing anyway (force=1): 02_plots.md: sections without a good run: mismatch" in forced.stderr


def test_publish_without_a_destination_says_how(built_sample):
    result = doit(built_sample[0], "publish")
    assert result.returncode != 0 and "doit publish to=FOLDER" in result.stdout + result.stderr


def test_published_files_are_readable_by_a_web_server_running_as_another_user(built_sample, tmp_path):
    import stat

    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    shutil.rmtree(site_of(course))
    mask = os.umask(0o022)
    try:
        assert doit(course, "site").returncode == 0
    finally:
        os.umask(mask)
    files = [p for p in site_of(course).rglob("*") if p.is_file()]
    assert len(files) > 10
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {"0o644"}  # not mkstemp's 0600


def test_a_failed_lecture_leaves_the_index_report_and_search_of_the_others_up_to_date(built_sample, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(built_sample[0], course)
    (course / "snippets" / "02_plots" / "after.py").write_text("raise KeyError('broken')\n")
    source = course / "lectures" / "01_basics.md"
    source.write_text(source.read_text().replace("Nothing runs here", "Nothing whatsoever runs here"))
    result = doit(course)
    assert result.returncode != 0
    assert ("the site's index, report and search are up to date, but 02_plots.md kept its previous page and search "
            "entries") in result.stderr
    search = (site_of(course) / "search-index.js").read_text()
    assert "whatsoever" in search  # the healthy lecture's edit is searchable
    assert "02_plots.html#markup" in search  # the failed one keeps its entries
    assert "Output that looks like markup" in (site_of(course) / "02_plots.html").read_text()  # and its page


def nav_of(page: Path) -> tuple[list[str], str, str]:
    """The sidebar's lecture titles, and the previous and next links' targets, of a site page."""
    html = page.read_text()
    sidebar = re.findall(r'<li[^>]*><a href="([\w-]+)\.html"[^>]*>([^<]*)</a>', html)
    previous = re.search(r'<a class="prev" href="([\w-]+)\.html"', html)
    following = re.search(r'<a class="next" href="([\w-]+)\.html"', html)
    titles = [f"{name}:{title}" for name, title in sidebar]
    return titles, previous.group(1) if previous else "", following.group(1) if following else ""


def add_lecture(course: Path, name: str, title: str, order: int) -> None:
    (course / "lectures" / f"{name}.md").write_text(
        f"---\ntitle: {title}\norder: {order}\nsummary: One more.\n---\n## Counting {{#count}}\n```{{snippet}} count.py\n```\n")
    (course / "snippets" / name).mkdir(parents=True, exist_ok=True)
    (course / "snippets" / name / "count.py").write_text("print(sum(range(4)))\n")


def test_every_page_agrees_after_lectures_are_added_renamed_reordered_and_deleted(sample_course):
    course = sample_course
    assert doit(course).returncode == 0
    site = site_of(course)

    def agree(expected: list[str]) -> None:
        """Every lecture page lists `expected` (name:title, in order) and links its neighbours in that order."""
        names = [entry.split(":")[0] for entry in expected]
        assert sorted(p.stem for p in pages(site)) == sorted(names + ["index", "report"])
        for i, name in enumerate(names):
            titles, previous, following = nav_of(site / f"{name}.html")
            assert titles == expected, name
            assert previous == (names[i - 1] if i else "") and following == (names[i + 1] if i + 1 < len(names) else "")
        index = (site / "index.html").read_text()
        assert [m for m in re.findall(r'<a class="card-link" href="([\w-]+)\.html"', index)] == names
        for folder, suffix in (("markdown", ".md"), ("html", ".html"), ("notebooks", ".ipynb"), ("slides", ".html")):
            assert sorted(p.name for p in (course / "build" / folder).glob(f"*{suffix}")) == sorted(
                f"{n}{suffix}" for n in names), folder

    agree(["01_basics:Tensors and a tiny model", "02_plots:Figures and errors"])
    add_lecture(course, "03_extra", "Extra material", 3)
    assert doit(course).returncode == 0
    agree(["01_basics:Tensors and a tiny model", "02_plots:Figures and errors", "03_extra:Extra material"])

    source = course / "lectures" / "03_extra.md"
    source.write_text(source.read_text().replace("Extra material", "More material"))
    doit(course)
    agree(["01_basics:Tensors and a tiny model", "02_plots:Figures and errors", "03_extra:More material"])

    source.write_text(source.read_text().replace("order: 3", "order: 0"))
    result = doit(course)
    assert "runs (" not in result.stderr  # a new place in the course re-renders and runs nothing
    agree(["03_extra:More material", "01_basics:Tensors and a tiny model", "02_plots:Figures and errors"])

    source.unlink()
    shutil.rmtree(course / "snippets" / "03_extra")
    doit(course)
    agree(["01_basics:Tensors and a tiny model", "02_plots:Figures and errors"])
    assert not any("More material" in p.read_text() for p in pages(site))

    config = course / "course.yml"
    config.write_text(config.read_text().replace("title: Sample course", "title: A renamed course"))
    doit(course)
    for page in pages(site) + sorted((course / "build" / "slides").glob("*.html")):
        assert "A renamed course" in page.read_text() and "Sample course" not in page.read_text(), page.name


def test_a_figure_that_goes_away_leaves_no_file_behind(sample_course):
    course = sample_course
    doit(course)
    old = {p.name for p in (course / "build" / "site" / "02_plots").glob("*.png")}
    assert old
    curve = course / "snippets" / "02_plots" / "curve.py"
    curve.write_text(curve.read_text().replace("** 2", "** 3"))
    doit(course)
    for folder in (course / "build" / "site" / "02_plots", course / "build" / "markdown" / "02_plots"):
        left = {p.name for p in folder.glob("*.png")}
        page = (folder.parent / "02_plots.html" if folder.parent.name == "site" else folder.parent / "02_plots.md")
        linked = set(re.findall(r"02_plots/([0-9a-f]+\.png)", page.read_text()))
        assert left == linked and not left & old, folder


def test_the_lecture_script_prints_an_expected_error_and_goes_on(built_sample, tmp_path):
    course, _ = built_sample
    script = shutil.copy(site_of(course) / "02_plots.py", tmp_path / "02_plots.py")
    ran = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"})
    assert ran.returncode == 0, ran.stderr
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied" in ran.stderr  # shown as the notebook shows it
    assert ran.stdout.index("plotted 10 points") < ran.stdout.index("the inner sizes must agree")  # and on it went


def test_a_traceback_on_the_pages_shows_no_path_of_the_build_machine(sample_course):
    course = sample_course
    (course / "lectures" / "03_inside.md").write_text(
        "---\ntitle: Inside torch\norder: 3\nsummary: An error raised in torch's code.\n---\n"
        "## A wrong input {#wrong}\n```{snippet} wrong.py\n:raises: RuntimeError\n```\n")
    (course / "snippets" / "03_inside").mkdir()
    (course / "snippets" / "03_inside" / "wrong.py").write_text(
        "import torch\nlayer = torch.nn.Linear(3, 2)\nlayer(torch.ones(4))\n")
    assert doit(course).returncode == 0
    import torch

    machine = [str(Path(torch.__file__).parents[1]), str(course), sys.prefix]
    for page in (site_of(course) / "03_inside.html", course / "build" / "markdown" / "03_inside.md",
                 course / "build" / "notebooks" / "03_inside.ipynb", course / "build" / "slides" / "03_inside.html"):
        text = page.read_text()
        assert "mat1 and mat2 shapes cannot be multiplied" in text, page.name
        assert not any(folder in text for folder in machine), page.name
        files = re.findall(r'File (?:&#34;|&quot;|\\?")([^"&\\]+)', text)
        assert files[0] == "snippets/03_inside/wrong.py", (page.name, files)  # the snippet's frame first
        assert all(f.startswith(("snippets/", "site-packages/", "python/")) for f in files), (page.name, files)
        assert "site-packages/torch/nn/modules/" in text and "in installed code" in text, page.name


def test_raw_html_in_the_prose_is_kept_sanitised_on_the_pages(sample_course):
    course = sample_course
    source = course / "lectures" / "01_basics.md"
    raw = ('<table><tr><td onclick="steal()">cell</td></tr></table>\n\nA <b>bold</b> word,<br>a break '
           'and <img src="logo.png" alt="logo" onerror="steal()">.\n\n<script>steal()</script>\n\n')
    text = source.read_text()
    first = text.index("\n## ")
    source.write_text(text[:first] + "\n\n" + raw + text[first:])
    assert doit(course).returncode == 0
    for page in (site_of(course) / "01_basics.html", course / "build" / "html" / "01_basics.html"):
        html = page.read_text()
        parse(page)  # still valid HTML5
        assert "<td>cell</td>" in html and "<b>bold</b>" in html and "<br>" in html, page
        assert '<img src="logo.png" alt="logo">' in html, page
        assert "steal()" not in html and "&lt;b&gt;" not in html, page
    handout = (course / "build" / "markdown" / "01_basics.md").read_text()
    assert "A <b>bold</b> word,<br>a break" in handout  # Markdown keeps its HTML; its renderer sanitises it


def test_a_new_lecture_that_fails_gets_a_page_saying_so_and_no_link_is_dead(sample_course):
    course = sample_course
    assert doit(course).returncode == 0
    add_lecture(course, "03_broken", "Broken at first", 3)
    (course / "snippets" / "03_broken" / "count.py").write_text("print(1 / 0)\n")
    assert doit(course).returncode != 0
    site = site_of(course)
    placeholder = (site / "03_broken.html").read_text()
    assert "Broken at first" in placeholder and "has not been built yet" in placeholder
    parse(site / "03_broken.html")
    for page in pages(site):  # every link between the site's pages leads to a page
        for target in re.findall(r'href="([\w-]+\.html)"', page.read_text()):
            assert (site / target).is_file(), (page.name, target)
    (course / "snippets" / "03_broken" / "count.py").write_text("print(sum(range(4)))\n")
    assert doit(course).returncode == 0
    page = (site / "03_broken.html").read_text()
    assert "has not been built yet" not in page and "Counting" in page
