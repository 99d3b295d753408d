"""The doit task layer, one module per verb: a course's dodo.py (lecturebuild/dodo.py) only wires these.

    options   the course, the device, the jobs and the executor a build asks for
    execute   one task per lecture that runs its stale sections (all lectures' go to the worker as one batch)
    render    the handouts, pages, notebooks, decks, site pages and PDFs, one task per lecture and format
    check     check, accept, portability, reproduce and claims
    publish   the site to a folder or a branch
    report    how the build speaks: messages instead of tracebacks, and the summary at the end

Actions are module-level functions with plain arguments, so they work with every doit runner, parallel
ones included.
"""
