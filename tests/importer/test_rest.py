"""reST prose of sphinx-gallery scripts to Markdown (lecturebuild.rest)."""

from __future__ import annotations

import re

import pytest
from docutils import nodes
from docutils.core import publish_doctree
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from lecturebuild.importer.rest import MarkdownWriter, rest_to_markdown

MD = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin, double_inline=True)

TUTORIAL = r"""
Tensors and autograd
====================

**Author**: `Ada Example <https://example.org/ada>`_

This tutorial introduces :class:`torch.Tensor` and :mod:`torch.autograd`, the engine behind
:meth:`~torch.Tensor.backward`. Read :ref:`the installation notes <install>` first; the
`PyTorch docs`_ explain more, and https://pytorch.org/docs has the API.

.. _PyTorch docs: https://pytorch.org/docs/stable/

.. lecturebuild-cell 0

Creating tensors
----------------

A tensor is built with :func:`torch.tensor`; its ``requires_grad`` flag asks autograd to record
operations on it. The loss is :math:`L = \frac{1}{n}\sum_i (y_i - \hat y_i)^2`.

.. math::
   :label: mse

   L = \frac{1}{n} \sum_{i=1}^{n} (y_i - \hat{y}_i)^2 \\
   \nabla_w L = \frac{2}{n} X^T (Xw - y)

.. note::

   Tensors on the GPU need :func:`torch.cuda.is_available` to be true.

.. lecturebuild-cell 1

Gradients with ``backward``
~~~~~~~~~~~~~~~~~~~~~~~~~~~

Calling backward fills ``.grad``::

    x.grad  # tensor([2., 2.])

.. code-block:: python
   :emphasize-lines: 2

   y = (x * x).sum()
   y.backward()

>>> torch.ones(2).sum()
tensor(2.)

Things to remember:

* gradients accumulate;
* call ``zero_grad`` between steps

  1. once per batch
  2. before ``backward``

.. seealso::
   :py:func:`torch.autograd.grad` computes gradients without touching ``.grad``.

.. versionadded:: 2.0
   ``torch.compile`` can trace autograd graphs.

No-grad mode
^^^^^^^^^^^^

.. figure:: /_static/img/autograd_graph.png
   :alt: the autograd graph

   The graph autograd records.

=========  ==============
Mode       Records graph
=========  ==============
default    yes
no_grad    no
=========  ==============
"""


def tokens(markdown: str) -> list:
    return [t for tok in MD.parse(markdown) for t in [tok, *(tok.children or [])]]


@pytest.fixture(scope="module")
def tutorial() -> str:
    return rest_to_markdown(TUTORIAL)


def test_sections_become_headings_by_nesting(tutorial):
    headings = re.findall(r"^(#+) (.*)$", tutorial, re.M)
    assert headings == [("#", "Tensors and autograd"), ("##", "Creating tensors"),
                        ("###", "Gradients with `backward`"), ("####", "No-grad mode")]


def test_prose_roles_and_links(tutorial):
    assert "**Author**: [Ada Example](https://example.org/ada)" in tutorial
    assert "introduces `torch.Tensor` and `torch.autograd`, the engine behind `backward`." in tutorial
    assert "Read the installation notes first; the [PyTorch docs](https://pytorch.org/docs/stable/)" in tutorial
    assert "[https://pytorch.org/docs](https://pytorch.org/docs) has the API." in tutorial
    assert "its `requires_grad` flag" in tutorial


def test_math_inline_and_display(tutorial):
    assert r"$L = \frac{1}{n}\sum_i (y_i - \hat y_i)^2$" in tutorial
    assert ("$$\nL = \\frac{1}{n} \\sum_{i=1}^{n} (y_i - \\hat{y}_i)^2 \\\\\n"
            "\\nabla_w L = \\frac{2}{n} X^T (Xw - y)\n$$") in tutorial
    assert "mse" not in tutorial


def test_code_blocks(tutorial):
    assert "Calling backward fills `.grad`:\n\n```text\nx.grad  # tensor([2., 2.])\n```" in tutorial
    assert "```python\ny = (x * x).sum()\ny.backward()\n```" in tutorial
    assert "```pycon\n>>> torch.ones(2).sum()\ntensor(2.)\n```" in tutorial


def test_markers_lists_admonitions_figures_tables(tutorial):
    assert "\n\n<!-- lecturebuild-cell 0 -->\n\n## Creating tensors" in tutorial
    assert "\n\n<!-- lecturebuild-cell 1 -->\n\n" in tutorial
    assert "- gradients accumulate;\n- call `zero_grad` between steps\n  1. once per batch\n  2. before `backward`" in tutorial
    assert "> **Note**\n>\n> Tensors on the GPU need `torch.cuda.is_available` to be true." in tutorial
    assert "> **See also**\n>\n> `torch.autograd.grad` computes gradients" in tutorial
    assert "*New in version 2.0:* `torch.compile` can trace autograd graphs." in tutorial
    assert "![the autograd graph](/_static/img/autograd_graph.png)\n\nThe graph autograd records." in tutorial
    assert "| Mode | Records graph |\n| --- | --- |\n| default | yes |\n| no_grad | no |" in tutorial


def test_tutorial_renders_as_intended_markdown(tutorial):
    toks = tokens(tutorial)
    types = [t.type for t in toks]
    assert [t.tag for t in toks if t.type == "heading_open"] == ["h1", "h2", "h3", "h4"]
    assert [t.info for t in toks if t.type == "fence"] == ["text", "python", "pycon"]
    assert types.count("math_block") == 1 and types.count("math_inline") == 1
    assert {t.attrs["href"] for t in toks if t.type == "link_open"} == {
        "https://example.org/ada", "https://pytorch.org/docs/stable/", "https://pytorch.org/docs"}
    assert {"table_open", "blockquote_open", "bullet_list_open", "ordered_list_open", "image"} <= set(types)
    assert types.count("html_block") == 2
    html = MD.render(tutorial)
    for noise in ("Unknown directive", "Unknown interpreted", "System Message", "ERROR/", "WARNING/", "Docutils"):
        assert noise not in html and noise not in tutorial


def test_overlined_titles_and_inline_markup_in_titles():
    md = rest_to_markdown("=====\nIntro\n=====\n\ntext\n\nThe *fast* path\n===============\n\n"
                          "Deeper ``code``\n---------------\n\nmore\n\n=====\nAgain\n=====\n")
    assert re.findall(r"^#+ .*$", md, re.M) == ["# Intro", "## The *fast* path", "### Deeper `code`", "# Again"]


@pytest.mark.parametrize("role, shown", [
    (":func:`torch.add`", "`torch.add`"),
    (":class:`~torch.nn.Linear`", "`Linear`"),
    (":meth:`Tensor.backward() <torch.Tensor.backward>`", "`Tensor.backward()`"),
    (":attr:`Tensor.grad`", "`Tensor.grad`"),
    (":data:`torch.float32`", "`torch.float32`"),
    (":obj:`None`", "`None`"),
    (":exc:`RuntimeError`", "`RuntimeError`"),
    (":any:`torch.no_grad`", "`torch.no_grad`"),
    (":py:func:`!torch.mean`", "`torch.mean`"),
    (":c:func:`cudaMalloc`", "`cudaMalloc`"),
    (":file:`data/mnist.npz`", "`data/mnist.npz`"),
    (":command:`pip`", "`pip`"),
    (":program:`python`", "`python`"),
    (":envvar:`CUDA_VISIBLE_DEVICES`", "`CUDA_VISIBLE_DEVICES`"),
    (":kbd:`Ctrl+C`", "`Ctrl+C`"),
    (":ref:`the basics <basics>`", "the basics"),
    (":ref:`basics-label`", "basics-label"),
    (":doc:`Getting started </intro/start>`", "Getting started"),
    (":term:`leaf tensor`", "leaf tensor"),
    (":numref:`fig-graph`", "fig-graph"),
    (":download:`the script <train.py>`", "the script"),
    (":guilabel:`&Run`", "Run"),
    (":abbr:`JIT (just-in-time)`", "JIT (just-in-time)"),
    (":math:`x^2`", "$x^2$"),
    ("`default role`", "`default role`"),
])
def test_roles(role, shown):
    assert rest_to_markdown(f"See {role} here.") == f"See {shown} here.\n"


def test_inline_literal_fences_grow_past_backticks():
    assert rest_to_markdown("Use ``a`b`` or ``x``.") == "Use ``a`b`` or `x`.\n"


@pytest.mark.parametrize("text", [
    "Stars * and a_b_c, _private, snake_case_ and [brackets] and <tag> & &amp; cost $5 or $x$.",
    "Backslash \\\\ and `` ` `` and ! and # and | pipes | are plain.",
])
def test_special_characters_read_as_in_source(text):
    md = rest_to_markdown(text)
    expected = publish_doctree(text, settings_overrides={"report_level": 5}).astext()
    toks = tokens(md)
    assert [t.type for t in toks if t.type not in ("paragraph_open", "paragraph_close", "inline")] in (
        ["text"], ["text", "code_inline", "text"])
    assert "".join(t.content for t in toks if t.type in ("text", "code_inline")) == expected


@pytest.mark.parametrize("source, line", [
    ("\\# not a heading", "\\# not a heading"),
    ("\\- not a list", "\\- not a list"),
    ("\\> not a quote", "\\> not a quote"),
    ("\\1. not a list either", "1\\. not a list either"),
    ("\\+ plus", "\\+ plus"),
])
def test_line_starts_that_markdown_would_read_as_blocks(source, line):
    md = rest_to_markdown(source)
    assert md == line + "\n"
    assert [t.type for t in MD.parse(md)] == ["paragraph_open", "inline", "paragraph_close"]


def test_links_of_every_kind():
    md = rest_to_markdown(
        "Anonymous `first`__ and `second`__, embedded `docs <https://docs.example/a(b)>`__,\n"
        "a named Target_, an internal `Details`_ ref, an _`inline target` and mail me@example.org.\n\n"
        "__ https://one.example\n__ https://two.example\n\n.. _Target: https://target.example\n\n"
        "Details\n=======\n\ntext\n")
    assert md.startswith(
        "Anonymous [first](https://one.example) and [second](https://two.example), embedded "
        "[docs](<https://docs.example/a(b)>), a named [Target](https://target.example), an internal "
        "Details ref, an inline target and mail [me@example.org](mailto:me@example.org).")
    hrefs = [t.attrs["href"] for t in tokens(md) if t.type == "link_open"]
    assert hrefs[2] == "https://docs.example/a(b)"


def test_lists_of_every_kind():
    md = rest_to_markdown(
        "#. first\n#. second\n\n3. three\n4. four\n\n"
        "tensor\n   An n-dimensional array.\n\n   It has a dtype.\nleaf : concept\n   Made by the user.\n\n"
        ":param x: the input\n:returns: the output\n\n"
        "-v, --verbose  print more\n--lr=RATE      learning rate\n")
    assert "1. first\n2. second\n\n3) three\n4) four" in md
    assert "* **tensor**: An n-dimensional array.\n\n  It has a dtype.\n\n* **leaf** *(concept)*: Made by the user." in md
    assert "+ **param x:** the input\n\n+ **returns:** the output" in md
    assert "* `-v, --verbose`: print more\n\n* `--lr=RATE`: learning rate" in md
    types = [t.type for t in tokens(md)]
    assert types.count("ordered_list_open") == 2 and types.count("bullet_list_open") == 3


def test_block_quotes_admonitions_and_sphinx_directives():
    md = rest_to_markdown(
        "Intro.\n\n    Quoted text.\n\n    -- Someone\n\n"
        ".. warning:: Do not call backward twice.\n\n"
        ".. admonition:: Why *zero* grads?\n\n   Because they accumulate.\n\n"
        ".. tip::\n   Use ``torch.no_grad``.\n\n"
        ".. important::\n\n   Mind the device.\n\n"
        ".. versionchanged:: 2.1 Now lazy.\n\n.. deprecated:: 1.3\n\n"
        ".. tab-set::\n\n   .. tab-item:: CPU\n\n      Runs anywhere.\n\n"
        ".. dropdown:: Show the *details*\n   :open:\n\n   Hidden text.\n\n"
        ".. grid:: 1 2 2 2\n\n   .. grid-item-card:: A card\n\n      Card body.\n\n"
        ".. only:: html\n\n   Web only.\n\n.. centered:: Centered words\n\n.. rubric:: Notes\n\n"
        ".. toctree::\n   :maxdepth: 1\n\n   intro\n\n.. autosummary::\n   :toctree: generated\n\n   torch.add\n\n"
        ".. currentmodule:: torch\n\n.. literalinclude:: ../examples/train.py\n   :lines: 1-10\n\n"
        ".. hlist::\n   :columns: 2\n\n   * alpha\n   * beta\n\n.. some-extension:: arg\n\n   Extension body.\n")
    assert "> Quoted text.\n>\n> \u2014 Someone" in md
    assert "> **Warning**\n>\n> Do not call backward twice." in md
    assert "> **Why *zero* grads?**\n>\n> Because they accumulate." in md
    assert "> **Tip**\n>\n> Use `torch.no_grad`." in md
    assert "> **Important**\n>\n> Mind the device." in md
    assert "*Changed in version 2.1:* Now lazy." in md and "*Deprecated since version 1.3.*" in md
    assert "**CPU**\n\nRuns anywhere." in md
    assert "**Show the *details***\n\nHidden text." in md
    assert "**A card**\n\nCard body." in md and "1 2 2" not in md
    assert "Web only." in md and "**Centered words**" in md and "**Notes**" in md
    assert "intro" not in md.replace("Intro.", "") and "torch.add" not in md and "torch\n" not in md
    assert "*Included file: `../examples/train.py`*" in md and "1-10" not in md
    assert "- alpha\n- beta" in md and "Extension body." in md
    assert "directive" not in md.lower()


def test_grid_table_with_rich_cells_falls_back_to_a_list():
    md = rest_to_markdown(
        "+--------+-------------+\n| op     | note        |\n+========+=============+\n"
        "| add    | elementwise |\n|        |             |\n|        | - fast      |\n+--------+-------------+\n"
        "| ``|``  | a | b       |\n+--------+-------------+\n")
    assert md == "- op\n\n  note\n\n- add\n\n  elementwise\n\n  - fast\n\n- `|`\n\n  a | b\n"


def test_pipes_in_simple_table_cells_are_escaped():
    md = rest_to_markdown("+--------+-------+\n| ``a|b``| x | y |\n+--------+-------+\n")
    assert md == "|  |  |\n| --- | --- |\n| `a\\|b` | x \\| y |\n"
    cells = [t.children[0].content for t in MD.parse(md) if t.type == "inline" and t.children]
    assert cells == ["a|b", "x | y"]


def test_footnotes_citations_substitutions_line_blocks_transitions():
    md = rest_to_markdown(
        "Autograd [#tape]_ follows [Griewank2008]_ and |pt| style.\n\n"
        ".. |pt| replace:: **PyTorch**\n\n| one line\n| two lines\n|     indented\n\n----\n\nAfter.\n\n"
        ".. [#tape] Reverse mode, recorded on a tape.\n.. [Griewank2008] Evaluating Derivatives.\n")
    assert "Autograd \\[1\\] follows \\[Griewank2008\\] and **PyTorch** style." in md
    assert "one line\\\ntwo lines\\\n\u00a0\u00a0\u00a0\u00a0indented" in md
    assert "\n\n---\n\nAfter." in md
    assert "\\[1\\] Reverse mode, recorded on a tape." in md
    assert "\\[Griewank2008\\] Evaluating Derivatives." in md
    types = [t.type for t in MD.parse(md)]
    assert "hr" in types and "heading_open" not in types


def test_comments_raw_include_and_broken_markup_leave_no_error_text(capsys):
    md = rest_to_markdown(
        ".. a plain comment\n\n.. lecturebuild-cell 12\n\n.. raw:: html\n\n   <b>bold</b>\n\n"
        ".. include:: ../secret.rst\n\nBroken *emphasis, an |undefined| substitution and a missing_ link.\n\n"
        ".. lecturebuild-cell 13 extra\n\n.. image:: /_static/img/loss.png\n   :align: center\n")
    assert md == ("<!-- lecturebuild-cell 12 -->\n\n"
                  "Broken \\*emphasis, an |undefined| substitution and a missing\\_ link.\n\n"
                  "![](/_static/img/loss.png)\n")
    assert capsys.readouterr() == ("", "")


def test_code_directives_and_literal_blocks():
    md = rest_to_markdown(
        "Expanded ::\n\n   plain()\n\n::\n\n   alone()\n\n"
        ".. code:: python\n\n   a = 1\n\n.. sourcecode:: bash\n\n   ls -l\n\n"
        ".. code-block::\n   :caption: no language\n\n   b = 2\n\n"
        "Fence inside::\n\n   ```\n   text\n")
    assert md == ("Expanded\n\n```text\nplain()\n```\n\n```text\nalone()\n```\n\n```python\na = 1\n```\n\n"
                  "```bash\nls -l\n```\n\n```text\nb = 2\n```\n\nFence inside:\n\n````text\n```\ntext\n````\n")
    assert [t.content for t in MD.parse(md) if t.type == "fence"][-1] == "```\ntext\n"


def test_math_directive_forms():
    md = rest_to_markdown(".. math:: e^{i\\pi} + 1 = 0\n\n.. math::\n   :nowrap:\n\n   a = 1\n\n   b = 2\n")
    assert md == "$$\ne^{i\\pi} + 1 = 0\n$$\n\n$$\na = 1\n$$\n\n$$\nb = 2\n$$\n"
    assert [t.type for t in MD.parse(md)] == ["math_block"] * 3


def test_unknown_nodes_fall_back_to_their_text():
    class gadget(nodes.Element):
        pass

    doc = publish_doctree("x", settings_overrides={"report_level": 5})
    assert MarkdownWriter(doc).render(gadget("", nodes.Text("1. a *b*"))) == "1\\. a \\*b\\*"


def test_deterministic_and_empty():
    assert rest_to_markdown(TUTORIAL) == rest_to_markdown(TUTORIAL)
    assert rest_to_markdown(".. role:: func\n\n:func:`x`\n") == "x\n"
    assert rest_to_markdown(":func:`x`\n") == "`x`\n"
    assert rest_to_markdown("") == "" and rest_to_markdown(".. only a comment\n") == ""


def test_docutils_directives_and_inline_forms():
    md = rest_to_markdown(
        ".. csv-table:: Timings\n   :header: \"device\", \"ms\"\n\n   cpu, 12\n   cuda, \"0.5, warm\"\n\n"
        ".. list-table::\n   :header-rows: 1\n\n   * - op\n     - grad\n   * - add\n     - yes\n\n"
        ".. topic:: Summary\n\n   Autograd records a graph.\n\n"
        ".. parsed-literal::\n\n   loss = *criterion*\\ (out)\n\n"
        "H\\ :sub:`2`\\ O and e\\ :sup:`x`.\n\n.. default-role:: math\n\nNow `x^2` is math.\n")
    assert "**Timings**\n\n| device | ms |\n| --- | --- |\n| cpu | 12 |\n| cuda | 0.5, warm |" in md
    assert "| op | grad |\n| --- | --- |\n| add | yes |" in md
    assert "> **Summary**\n>\n> Autograd records a graph." in md
    assert "```text\nloss = criterion(out)\n```" in md
    assert "H<sub>2</sub>O and e<sup>x</sup>." in md
    assert "Now $x^2$ is math." in md
    assert rest_to_markdown(".. sectnum::\n\nFirst\n=====\n\ntext\n").startswith("# 1 First\n")
