"""Build this repository's course: `doit` (see README.md; `doit list` shows the tasks).

Every task comes from the lecturebuild package, as in any course folder; the work lives there.
"""

from lecturebuild.dodo import *  # noqa: F403
