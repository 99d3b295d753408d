"""reStructuredText prose (as in sphinx-gallery scripts) to the course's Markdown.

`rest_to_markdown` parses the text with docutils' reST parser and writes the tree as CommonMark
with pipe tables and dollar math (`$x$` inline, `$$` blocks on their own lines). It converts:

- sections (levels follow the nesting: the top one is `#`), paragraphs (reflowed), emphasis,
  strong, inline literals and `default role` text as code, links (embedded, named, anonymous, bare
  URLs; internal references keep just their text), sub/superscripts as `<sub>`/`<sup>`;
- Sphinx roles (`:func:`, `:py:meth:`, `:ref:`, `:doc:`, `:term:`, ...): code-like ones become
  inline code with Sphinx's `~` and `title <target>` forms, the others their text; `:math:`;
- literal, `code-block`/`code`/`sourcecode` and doctest blocks as fenced code, `math` as `$$`;
- bullet and enumerated lists (numbered `1.`, `2.`, ...); definition, field and option lists as
  `*` lists led by the bold term; block quotes; admonitions, `seealso`, topics and sidebars as a
  quote led by the bold title; images and figures (image, then caption); tables as pipe tables
  when every cell is one paragraph, else as a list of rows; footnotes and citations as `[1]` then
  the note, where docutils puts it; line blocks as hard breaks; transitions as `---`;
- Sphinx directives docutils lacks keep their content (`versionadded` & co. get their lead line,
  `dropdown`, `tab-item`, `card` their bold title, `literalinclude` a note naming the file);
  `toctree`, `autosummary`, `auto*`, `currentmodule`, `highlight` and `index` give nothing.

A comment `.. lecturebuild-cell N` becomes `<!-- lecturebuild-cell N -->`; of two adjacent lists,
the second takes the other marker (`+`, `1)`) so they stay apart. Other comments, `raw`, substitution definitions and the parser's messages
are dropped, so is what docutils rejects outright (a malformed table, a directive with a bad
option); inline markup it could not parse keeps its source text. Characters Markdown would read
as markup are escaped.
"""

from __future__ import annotations

import re
import threading

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles
from docutils.parsers.rst.directives.body import CodeBlock, MathBlock
from docutils.parsers.rst.languages import en
from docutils.statemachine import StringList

SETTINGS = {
    "report_level": 5, "halt_level": 5, "warning_stream": False, "traceback": True,
    "file_insertion_enabled": False, "raw_enabled": False, "_disable_config": True,
    "doctitle_xform": False, "sectsubtitle_xform": False, "docinfo_xform": False,
    "syntax_highlight": "none", "smart_quotes": False, "language_code": "en",
}
ROLE = re.compile(r":([\w.+-]+(?::[\w.+-]+)?):`")
DIRECTIVE = re.compile(r"^\s*\.\. ([\w:-]+)::", re.M)
CELL = re.compile(r"lecturebuild-cell \d+")
CODE_ROLES = {"func", "class", "meth", "mod", "attr", "data", "obj", "exc", "any", "file", "command",
              "envvar", "program", "kbd", "samp", "const", "type", "member", "var", "option",
              "keyword"}
TEXT_ROLES = {"ref", "doc", "term", "numref", "download", "abbr", "guilabel", "menuselection", "eq",
              "dfn", "token"}
SILENT = {"toctree", "autosummary", "currentmodule", "highlight", "index", "sectionauthor",
          "moduleauthor", "codeauthor", "tabularcolumns", "minigallery", "py:module",
          "py:currentmodule"}
VERSIONS = {"versionadded": "New in version", "versionchanged": "Changed in version",
            "deprecated": "Deprecated since version", "versionremoved": "Removed in version"}
ADMONITIONS = {"seealso": "See also", "todo": "Todo"}
TITLED = {"dropdown", "tab-item", "tab", "card", "grid-item-card", "centered"}
LISTS = {nodes.bullet_list: "-", nodes.enumerated_list: "1", nodes.definition_list: "*",
         nodes.field_list: "*", nodes.option_list: "*"}
ALTERNATE = {"-": (r"^- ", "+ "), "1": (r"^(\d+)\. ", r"\1) "), "*": (r"^\* ", "+ ")}
LOCK = threading.Lock()
LINE_START = re.compile(r"^([#>+=~-]|\d{1,9}[.)](?=\s|$))")


def rest_to_markdown(text: str, source: str = "<rst>") -> str:
    """The Markdown for the reST document `text`; `source` names it in the parser's bookkeeping."""
    with LOCK:
        _register(text)
        saved = dict(roles._roles)  # a `.. role::` in the text must not outlive this document
        try:
            doctree = publish_doctree(text, source_path=source, settings_overrides=dict(SETTINGS))
        finally:
            roles._roles.clear()
            roles._roles.update(saved)
    out = MarkdownWriter(doctree).render(doctree).strip("\n")
    return out + "\n" if out else ""


def escape(text: str) -> str:
    """Plain text with the characters Markdown (and dollar math) would read as markup escaped."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"([\\`*\[\]<$])", r"\\\1", text)
    text = re.sub(r"(?<![^\W_])_|_(?![^\W_])", r"\\_", text)
    return re.sub(r"&(?=#?\w+;)", r"\\&", text)


def guard(line: str) -> str:
    """A line of text that cannot start a heading, list, quote, fence or thematic break."""
    return LINE_START.sub(lambda m: m[0][:-1] + "\\" + m[0][-1], line.strip())


def code(text: str) -> str:
    text = text.replace("\n", " ")
    ticks = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" or (text[:1] == text[-1:] == " ") else ""
    return ticks + pad + text + pad + ticks


def fence(text: str, info: str) -> str:
    ticks = "`" * max(3, max(map(len, re.findall("`+", text)), default=0) + 1)
    return f"{ticks}{info}\n{text.strip(chr(10))}\n{ticks}"


def destination(uri: str) -> str:
    return "<" + uri.replace("<", "%3C").replace(">", "%3E") + ">" if re.search(r"[\s()<>]", uri) else uri


def quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))


def item(marker: str, blocks: list[str], tight: bool = False) -> str:
    text = ("\n" if tight else "\n\n").join(b for b in blocks if b)
    return (marker + re.sub(r"\n(?=[^\n])", "\n" + " " * len(marker), text)).rstrip()


class AnyOptions(dict):
    """An option spec that accepts any option, so Sphinx-only options are ignored."""

    def __missing__(self, key):
        return directives.unchanged


class LenientCode(CodeBlock):
    option_spec = AnyOptions(CodeBlock.option_spec)


class LenientMath(MathBlock):
    option_spec = AnyOptions(MathBlock.option_spec)


class SphinxDirective(Directive):
    """A Sphinx (or extension) directive: its content is parsed as reST body, led as it names."""

    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = AnyOptions(name=directives.unchanged)

    def run(self):
        name, arg, lines = self.name.lower(), self.arguments[0] if self.arguments else "", self.content
        if arg and not self.block_text.split("\n", 1)[0].split("::", 1)[1].strip():
            # Text right under the directive line is content; docutils reads it as the argument.
            lines, arg = StringList(arg.split("\n") + [""] + list(self.content)), ""
        if name in SILENT or name.startswith("auto"):
            return []
        if name == "literalinclude":
            return [nodes.paragraph("", "", nodes.emphasis("", "Included file: ", nodes.literal(arg, arg)))]
        body = nodes.container()
        self.state.nested_parse(lines, self.content_offset, body)
        kids = list(body.children)
        if name in ADMONITIONS:
            return [nodes.admonition("", nodes.title("", ADMONITIONS[name]), *kids)]
        if name in VERSIONS:
            version, rest = (arg.split(None, 1) + [""])[:2]
            lead = nodes.paragraph("", "", nodes.emphasis(
                "", f"{VERSIONS[name]} {version}{':' if rest or kids else '.'}"))
            if rest:
                lead += [nodes.Text(" "), *self.state.inline_text(rest.strip(), self.lineno)[0]]
            return [lead, *kids]
        if arg and name in TITLED:
            title = nodes.strong("", "", *self.state.inline_text(arg, self.lineno)[0])
            return [nodes.paragraph("", "", title), *kids]
        if arg and ":" in name:
            return [nodes.paragraph("", "", nodes.literal(arg, arg)), *kids]
        return kids


def sphinx_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """A Sphinx role: code-like ones as inline code, the rest as their text."""
    name, text = name.lower(), nodes.unescape(text)
    base = name.rsplit(":", 1)[-1]
    is_code = base in CODE_ROLES or (":" in name and base not in TEXT_ROLES)
    titled = re.fullmatch(r"(.+?)\s*<([^<>]+)>", text, re.S)
    if titled:
        shown = titled[1]
    elif base == "doc":
        shown = text.rstrip("/")
    else:
        shown = text.lstrip("!")
        if is_code and shown.startswith("~"):
            shown = shown[1:].rsplit(".", 1)[-1]
    if base in ("guilabel", "menuselection"):
        shown = re.sub(r"&(\S)", r"\1", shown).replace("-->", "\u2023")
    return [(nodes.literal if is_code else nodes.inline)(rawtext, shown)], []


def _register(text: str) -> None:
    """Makes the roles and directives `text` uses known to docutils (idempotent)."""
    known = set(roles._roles) | set(roles._role_registry) | set(en.roles)
    for name in {n.lower() for n in ROLE.findall(text)} - known:
        roles.register_local_role(name, sphinx_role)
    known = set(directives._directives) | set(directives._directive_registry) | set(en.directives)
    for name in {n.lower() for n in DIRECTIVE.findall(text)} - known:
        directives.register_directive(name, SphinxDirective)


for _name in ("code", "code-block", "sourcecode"):
    directives.register_directive(_name, LenientCode)
directives.register_directive("math", LenientMath)


class MarkdownWriter(nodes.NodeVisitor):
    """Renders a node to Markdown: block nodes as blocks, inline nodes as inline text."""

    def __init__(self, document):
        super().__init__(document)
        self.depth = 0

    def render(self, node) -> str:
        if isinstance(node, nodes.Admonition):
            return self.visit_topic(node)
        return self.dispatch_visit(node)

    def blocks(self, children) -> str:
        """Rendered children, blank-line separated; adjacent lists of one marker kept apart."""
        out, last, swapped = [], None, False
        for child in children:
            text = self.render(child)
            if text:
                kind = LISTS.get(type(child))
                swapped = bool(kind) and kind == LISTS.get(type(last)) and not swapped
                if swapped:  # CommonMark starts a new list where the marker changes
                    pattern, replacement = ALTERNATE[kind]
                    text = re.sub(pattern, replacement, text, flags=re.M)
                out.append(text)
                last = child
        return "\n\n".join(out)

    def inline(self, node) -> str:
        return "".join(map(self.render, node.children)).strip()

    def headed(self, head: str, children) -> list[str]:
        """Blocks led by `head`, on the line of the first paragraph when there is one."""
        blocks = [self.render(c) for c in children]
        if children and isinstance(children[0], nodes.paragraph):
            return [head + " " + blocks[0], *blocks[1:]]
        return [head, *blocks]

    def unknown_visit(self, node) -> str:
        return guard(escape(node.astext()))

    visit_problematic = unknown_visit

    # Blocks
    def visit_document(self, node) -> str:
        return self.blocks(node.children)

    visit_container = visit_compound = visit_list_item = visit_definition = visit_document
    visit_field_body = visit_description = visit_entry = visit_legend = visit_figure = visit_document

    def visit_section(self, node) -> str:
        self.depth += 1
        title = self.inline(node[0]) if isinstance(node[0], nodes.title) else ""
        if title.endswith("#"):
            title = title[:-1] + "\\#"
        body = self.blocks(node.children[1 if title else 0:])
        self.depth -= 1
        return "\n\n".join(b for b in ("#" * min(self.depth + 1, 6) + " " + title, body) if b)

    def visit_paragraph(self, node) -> str:
        return guard(self.inline(node))

    visit_caption = visit_paragraph

    def visit_attribution(self, node) -> str:
        return "\u2014 " + self.inline(node)

    def visit_title(self, node) -> str:
        return f"**{self.inline(node)}**"

    visit_rubric = visit_subtitle = visit_title

    def visit_literal_block(self, node) -> str:
        classes = node.get("classes", [])
        language = classes[1] if classes[:1] == ["code"] and len(classes) > 1 else "text"
        return fence(node.astext(), "pycon" if isinstance(node, nodes.doctest_block) else language)

    visit_doctest_block = visit_literal_block

    def visit_math_block(self, node) -> str:
        return "$$\n" + node.astext().strip("\n") + "\n$$"

    def visit_comment(self, node) -> str:
        text = node.astext().strip()
        return f"<!-- {text} -->" if CELL.fullmatch(text) else ""

    def visit_transition(self, node) -> str:
        return "---"

    def visit_raw(self, node) -> str:
        return ""

    visit_system_message = visit_substitution_definition = visit_pending = visit_raw
    visit_label = visit_decoration = visit_header = visit_footer = visit_meta = visit_raw

    def visit_bullet_list(self, node, marker=lambda i: "- ") -> str:
        """Tight when every item is one paragraph, maybe followed by lists."""
        tight = all(li.children and isinstance(li[0], nodes.paragraph) and all(
            isinstance(c, (nodes.bullet_list, nodes.enumerated_list)) for c in li[1:]) for li in node)
        items = [item(marker(i), [self.render(c) for c in li.children], tight) for i, li in enumerate(node)]
        return ("\n" if tight else "\n\n").join(items)

    def visit_enumerated_list(self, node) -> str:
        return self.visit_bullet_list(node, lambda i: f"{node.get('start', 1) + i}. ")

    def visit_definition_list(self, node) -> str:
        items = []
        for entry in node.children:
            term = "".join(f"**{self.inline(c)}**" for c in entry if isinstance(c, nodes.term))
            term += "".join(f" *({self.inline(c)})*" for c in entry if isinstance(c, nodes.classifier))
            body = [k for c in entry if isinstance(c, nodes.definition) for k in c.children]
            items.append(item("* ", self.headed(term if term.rstrip("*").endswith(":") else term + ":", body)))
        return "\n\n".join(items)

    def visit_field_list(self, node) -> str:
        return "\n\n".join(item("* ", self.headed(f"**{self.inline(field[0])}:**", field[1].children))
                           for field in node.children)

    def visit_option_list(self, node) -> str:
        return "\n\n".join(item("* ", self.headed(
            code(", ".join(o.astext() for o in entry[0].children)) + ":",
            entry[1].children if len(entry) > 1 else [])) for entry in node.children)

    def visit_block_quote(self, node) -> str:
        return quote(self.blocks(node.children))

    def visit_topic(self, node) -> str:
        """Admonitions, topics and sidebars: a quote led by the bold title."""
        if node.children and isinstance(node[0], nodes.title):
            title, body = self.inline(node[0]), node.children[1:]
        else:
            title, body = node.tagname.capitalize(), node.children
        return quote("\n\n".join(b for b in (f"**{title}**", self.blocks(body)) if b))

    visit_sidebar = visit_topic

    def visit_line_block(self, node, level=0) -> str:
        lines = [self.visit_line_block(c, level + 1) if isinstance(c, nodes.line_block)
                 else "\u00a0" * 4 * level + (guard(self.inline(c)) or "\u00a0") for c in node.children]
        return "\\\n".join(lines)

    def visit_footnote(self, node) -> str:
        label = node[0].astext() if node.children and isinstance(node[0], nodes.label) else ""
        return "\n\n".join(b for b in self.headed(escape(f"[{label}]"), node.children[1 if label else 0:]) if b)

    visit_citation = visit_footnote

    def visit_table(self, node) -> str:
        titles = [f"**{self.inline(c)}**" for c in node.children if isinstance(c, nodes.title)]
        groups = [c for c in node.children if isinstance(c, nodes.tgroup)]
        head = [r for g in groups for part in g if isinstance(part, nodes.thead) for r in part]
        body = [r for g in groups for part in g if isinstance(part, nodes.tbody) for r in part]
        rows = head + body
        simple = len(groups) == 1 and len(head) <= 1 and rows and all(
            not cell.get("morerows") and not cell.get("morecols")
            and (len(cell) == 0 or (len(cell) == 1 and isinstance(cell[0], nodes.paragraph)))
            for row in rows for cell in row)
        if simple:
            def line(row):
                return "| " + " | ".join(self.inline(c[0]).replace("|", "\\|") if len(c) else "" for c in row) + " |"
            width = len(rows[0])
            lines = [line(head[0]) if head else "|" + "  |" * width, "|" + " --- |" * width]
            table = "\n".join(lines + [line(row) for row in body])
        else:
            table = "\n\n".join(item("- ", [self.render(cell) for cell in row]) for row in rows)
        return "\n\n".join(titles + [table])

    # Inline
    def visit_Text(self, node) -> str:
        return escape(node.astext())

    def visit_emphasis(self, node) -> str:
        mark, text = "**" if isinstance(node, nodes.strong) else "*", self.inline(node)
        return f"{mark}{text}{mark}" if text else ""

    visit_strong = visit_emphasis

    def visit_literal(self, node) -> str:
        return code(node.astext())

    visit_title_reference = visit_literal

    def visit_math(self, node) -> str:
        return "$" + " ".join(node.astext().split()) + "$"

    def visit_reference(self, node) -> str:
        text = self.inline(node)
        return f"[{text}]({destination(node['refuri'])})" if node.get("refuri") else text

    def visit_inline(self, node) -> str:
        return "".join(map(self.render, node.children))

    visit_target = visit_abbreviation = visit_acronym = visit_generated = visit_inline

    def visit_footnote_reference(self, node) -> str:
        return escape(f"[{node.astext()}]")

    visit_citation_reference = visit_footnote_reference

    def visit_subscript(self, node) -> str:
        tag = node.tagname[:3]
        return f"<{tag}>{self.inline(node)}</{tag}>"

    visit_superscript = visit_subscript

    def visit_image(self, node) -> str:
        return f"![{escape(node.get('alt', ''))}]({destination(node['uri'])})"
