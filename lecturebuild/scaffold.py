"""`lecturebuild new PATH`: a course folder that builds at once, to start a course of one's own from.

It holds one short lecture (a linear layer's output shape, its quoted parameter count, a small figure),
a dodo.py that takes every task from the package, a .gitignore for build/ and an empty templates/ folder
whose files, when added, override the built-in templates of the same name.
"""

from __future__ import annotations

import json
from pathlib import Path

from lecturebuild.errors import LectureBuildError

LECTURE = "01_first_steps"

FILES = {
    "course.yml": """\
title: {title_yaml}
description: >-
  A course built with lecturebuild: every shape, parameter count and figure in it comes from a real
  run of the code beside it.
# slides: true   # also build a slide deck per lecture (build/slides/), linked from the site
# pdf: true      # also print each lecture as a PDF handout (needs Chromium)
""",
    "dodo.py": '''\
"""Build this course: `doit` (or `doit list` for the tasks). Every task comes from lecturebuild."""

from lecturebuild.dodo import *  # noqa: F403
''',
    ".gitignore": "/build/\n__pycache__/\n",
    f"lectures/{LECTURE}.md": """\
---
title: First steps
order: 1
summary: A linear layer, its parameters and its outputs, every number from a real run.
setup: setup.py
---
Every shape, number and figure in this lecture comes from running the code beside it: change the
code, run `doit`, and the text follows.

## A linear layer {#layer}

A linear layer maps each row of a batch to a new space. Its weights are a matrix and a bias vector.

```{snippet} layer.py
```

The layer has {{ layer.model.parameters | thousands }} parameters, and it turns a batch of shape
`{{ layer.x.shape }}` into one of shape `{{ layer.y.shape }}`.

## What it outputs {#outputs needs=layer}

The layer has not been trained, so its outputs spread around zero:

```{snippet} outputs.py
```
""",
    f"snippets/{LECTURE}/setup.py": """\
import matplotlib.pyplot as plt
import torch
from torch import nn
""",
    f"snippets/{LECTURE}/layer.py": """\
model = nn.Linear(16, 4).to(device)
x = torch.randn(8, 16).to(device)  # drawn on the CPU, so every machine prints the same numbers
y = model(x)
print("output shape:", y.shape)
""",
    f"snippets/{LECTURE}/outputs.py": """\
values = y.detach().cpu().flatten()
plt.figure(figsize=(5, 3))
plt.hist(values, bins=12)
plt.title("Outputs of the untrained layer")
plt.xlabel("value")
plt.ylabel("count")
plt.show()
print(f"mean {values.mean():.3f}, std {values.std():.3f}")
""",
    "README.md": """\
# {title}

A course built with [lecturebuild](https://pypi.org/project/lecturebuild/).

    doit                  # run what changed and render build/site/, build/markdown/, build/notebooks/
    lecturebuild serve    # preview the site, rebuilt on every save
    doit check            # compare the outputs with the accepted ones (doit accept accepts them)

Lectures are in `lectures/`, their code in `snippets/<lecture>/`. A file in `templates/` overrides the
built-in template of the same name (for example `templates/markdown/lecture.md.j2`).
""",
}


def new_course(path: str | Path, force: bool = False) -> list[Path]:
    """Write the starter course into `path`; the paths written. An existing non-empty folder is refused
    unless `force`, and even then no file already there is overwritten."""
    if not str(path).strip():
        raise LectureBuildError("say which folder to make: lecturebuild new PATH")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise LectureBuildError(f"{path} is a file, not a folder")
    taken = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    if taken and not force:
        shown = ", ".join(taken[:5]) + (", ..." if len(taken) > 5 else "")
        raise LectureBuildError(f"{path} is not empty ({shown}); pick a new folder, or pass --force to add the "
                                "starter course to it (files already there are kept)")
    title = path.resolve().name.replace("_", " ").replace("-", " ").strip().capitalize() or "My course"
    written = []
    try:
        for name, text in FILES.items():
            target = path / name
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            text = text.replace("{title_yaml}", json.dumps(title)).replace("{title}", title)
            target.write_text(text, encoding="utf-8")
            written.append(target)
        (path / "templates").mkdir(exist_ok=True)
    except OSError as exc:
        raise LectureBuildError(f"could not make the course in {path}: {exc.strerror} ({exc.filename})") from None
    return written
