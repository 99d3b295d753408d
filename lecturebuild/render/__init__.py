"""Rendering a lecture's results into its outputs. Every format renders one view (view.py) with the templates
(templates.py; a course's own templates/ first):

    formats     one record per format (folder, suffix, template, writer) and rendering once per set of inputs
    handout     the Markdown handout and the self-contained HTML page
    notebook    the executed notebook
    slides      the reveal.js deck
    site        the course site: a page per lecture, the index, the report and the search
    pdf         the PDF handouts, printed from the site pages
    script      the lecture as one runnable .py file
    quote       the prose's {{ section.name }} values; mathml and text: shared helpers
"""
