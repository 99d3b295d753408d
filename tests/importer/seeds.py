"""The course's source documents in ../shared/seeds/, as the import tests use them, and documents of the same
shape written here, so that what those tests prove is proven on a fresh clone with nothing beside it too."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat import v4

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"  # ../shared beside the checkout
MARKDOWN_LECTURE = SEEDS / "000_3b580d8ec4033c98.txt"
NOTEBOOK_TEXT = SEEDS / "004_9f0a767d8d5e15e5.txt"


def seed(path: Path) -> Path:
    """A seed document; where there is none (a user's clone has no ../shared), the test is skipped, saying so."""
    if not path.is_file():
        pytest.skip(f"the course's source documents are not beside this checkout ({path} is missing); "
                    "the seed-shaped documents of tests/importer/seeds.py cover the same ground")
    return path


# A lecture converted from a PDF, as the seed 000 is: code blocks with the output somebody pasted under them
# (never from a run: the separator lines and the parameter count are wrong), one block cut by a page break,
# its continuation indented, and headings in bold.
PDF_LECTURE = """\
# **Tensors and Recurrent Layers**

## **Lecture Overview**

This lecture covers tensor shapes, recurrent layers and counting parameters.

# 1. Tensors

## 1.1 Shapes

```
import torch
import torch.nn as nn

print("Tensor shapes")
print("=="*30)
x = torch.zeros(4, 10, 32)
print(f"x: {x.shape}")

Tensor shapes
=====
x: torch.Size([4, 10, 32])
```

## 1.2 A recurrent layer

```
print("Recurrent layer")
print("=="*30)

rnn = nn.RNN(
    input_size=32,
    hidden_size=64,
```

```

        num_layers=2,
        batch_first=True
    )

    out, h_n = rnn(x)
    print(f"Output: {out.shape}")
    print(f"h_n: {h_n.shape}")

    Recurrent layer
    =====
Output: torch.Size([4, 10, 64])
h_n: torch.Size([2, 4, 64])
```

# 2. Counting parameters

## 2.1 A text classifier

```
class Classifier(nn.Module):
    def __init__(self, vocab, embed, hidden, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

model = Classifier(10000, 128, 256, 2)
print("Classifier")
print("=" * 40)
print(f"Parameters: {sum(p.numel() for p in model.parameters()):,}")

Classifier
=====
Parameters: 2,111,234
```

## Summary

- Shapes first, then layers.
"""

# A notebook exported as text, as the seed 004 is: `In [None]:` cells never executed, a table of contents that
# promises more than the body holds, one seed at the top and training later, and a last cell that fails as
# written (1-feature inputs into layers built for 32 features).
NOTEBOOK_EXPORT = """\
# Recurrent Networks, Step by Step

## Introduction

This notebook walks from a recurrent step to a trained classifier.

## Table of Contents

1. **[Mechanics](#mechanics)**
2. **[Training](#training)**
3. **[Gated units](#gated-units)**

In [None]:
import torch
import torch.nn as nn
import numpy as np

torch.manual_seed(42)
np.random.seed(42)

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
print(f"Using device: {device}")

## Mechanics

### The recurrent step

One step mixes the input with the previous hidden state.

In [None]:
rnn = nn.RNN(32, 64, batch_first=True)
x = torch.randn(4, 10, 32)
out, h = rnn(x)
print(out.shape, h.shape)

## Training

In [None]:
model = nn.Linear(32, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(5):
    loss = model(torch.randn(8, 32)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"final loss {loss.item():.4f}")

## Gradient flow

In [None]:
layers = {"rnn": nn.RNN(32, 16, batch_first=True), "lstm": nn.LSTM(32, 16, batch_first=True)}
inputs = torch.randn(2, 20, 1)
for name, layer in layers.items():
    output, _ = layer(inputs)
    print(name, output.shape)
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def notebook_from_text(path: Path = NOTEBOOK_TEXT) -> nbformat.NotebookNode:
    """The notebook behind the text export: `In [None]:` opens a code cell, which runs until the next
    Markdown heading (`## `, `### `) or the next `In [None]:`; the rest is Markdown."""
    cells, kind, lines = [], "markdown", []

    def flush():
        text = "\n".join(lines).strip("\n")
        if text.strip():
            cells.append(v4.new_code_cell(text) if kind == "code" else v4.new_markdown_cell(text))

    for line in seed(path).read_text(encoding="utf-8").splitlines():
        if line.strip() == "In [None]:":
            flush()
            kind, lines = "code", []
        elif kind == "code" and line.startswith(("## ", "### ", "#### ")):
            flush()
            kind, lines = "markdown", [line]
        else:
            lines.append(line)
    flush()
    return v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
