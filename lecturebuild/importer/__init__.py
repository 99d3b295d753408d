"""Bring existing material into the course: a notebook, a percent or sphinx-gallery script, or Markdown
with fenced code becomes lectures/<name>.md plus snippets/<name>/, and the outputs the source showed
become claims/<name>.json, which the first build compares with the real run (check/claims.py).

    read.py     the source as blocks: headings, prose, code with the outputs it showed (fences.py: code and
                pasted output in one fence, blocks a page break cut)
    plan.py     the title, setup, sections and needs (dataflow.py: which names each block reads and writes)
    write.py    the lecture, its snippets and claims, all or nothing
    rest.py     the reStructuredText of sphinx-gallery scripts as Markdown

The rules, in the order they apply:

- Title: the source's first heading when it is level 1 and comes before any code; else the file name.
- Sections: code sits at some heading levels; the shallowest of those is the section level. Every
  heading at that level or above starts a section, and so does a deeper heading with code of its
  own; other headings stay in the prose, one level below sections.
- Code: code cells, and Markdown fences labelled python (or unlabelled) whose text parses as Python.
  A fence labelled text, output or console, or an unlabelled one that does not parse, right after a
  code block, is that block's output. Inside one unlabelled fence, code followed by pasted output is
  split where the longest Python prefix ending at a blank line stops.
- Split blocks: a code fence that does not parse, or one with no output whose next fence opens with
  an empty line, followed (blank lines between) by an unlabelled fence, is joined with it, the continuation dedented by the smallest amount that makes the code
  parse, as happens when a PDF page break cuts a block. When no amount does, the block is kept as is;
  the import warns, and the build reports the syntax error for that section while the others build.
- Setup: the import statements that open the first code block.
- needs: a name a section uses that an earlier section defines makes it need that section.
- IPython magics (`%...`, `!...`) are commented out. A notebook cell whose stored output is an error
  is marked `:raises:` with that error.
"""
