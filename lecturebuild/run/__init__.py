"""Running sections. The build side never imports torch and never runs snippet code:

    plan        which sections are stale, and why (a cache key per section)
    execute     sends the stale sections as one batch and reports each as it ends (SectionDone, LectureDone)
    schedule    the order they run in: the longest chain of work first
    daemon      a warm worker per build folder, reached over a Unix socket
    distributed the same sections on a Dask cluster
    device      which device, resolved without torch, described after the run

The worker is a separate interpreter that imports torch once:

    worker      runs a request's sections, `jobs` at a time, and stores each result
    pool        the section processes it forks, ready ahead of need, reused where a section goes on from another
    section     what runs inside a section process: seeding, replay, the hand-off of its result
    capture     a snippet's printed output, figures (figures.py), value and error
    processes   what a section leaves running, ended
"""
