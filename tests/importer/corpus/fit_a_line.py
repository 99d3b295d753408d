# -*- coding: utf-8 -*-
r"""
Fitting a line with autograd
============================

**Author**: The lecturebuild test corpus

This tutorial fits :math:`y = w x + b` to noisy points with plain tensors and
:func:`torch.autograd.backward`, then does the same with :class:`torch.nn.Linear`.
It follows the `PyTorch tutorials <https://pytorch.org/tutorials/>`__ in shape:
a docstring in reStructuredText, then code with comment blocks between.

.. note::
   Every number below comes from running the code; the build checks them.

The loss is the mean squared error

.. math::

   L(w, b) = \frac{1}{n} \sum_{i=1}^{n} (w x_i + b - y_i)^2

"""

import math

import torch

torch.manual_seed(1)

######################################################################
# Data
# ----
#
# We draw ``n = 64`` points around the line :math:`y = 2x - 1`. A literal
# block shows how the points are made::
#
#     x = torch.linspace(-1, 1, n)
#     y = 2 * x - 1 + noise
#

n = 64
x = torch.linspace(-1, 1, n)
y = 2 * x - 1 + 0.1 * torch.randn(n)
print(f"{n} points, first three: {x[:3].tolist()}")

######################################################################
# Parameters by hand
# ~~~~~~~~~~~~~~~~~~
#
# Two scalars with ``requires_grad=True``. The gradient of :math:`L` with
# respect to :math:`w` is :math:`\frac{2}{n}\sum_i (w x_i + b - y_i) x_i`.

w = torch.randn((), requires_grad=True)
b = torch.zeros((), requires_grad=True)
print(f"start: w={w.item():.4f} b={b.item():.4f}")

######################################################################
# Gradient descent
# ~~~~~~~~~~~~~~~~
#
# * compute the loss,
# * call ``loss.backward()``,
# * step against the gradient inside ``torch.no_grad()``.

learning_rate = 0.5
for step in range(40):
    loss = ((w * x + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= learning_rate * w.grad
        b -= learning_rate * b.grad
        w.grad = None
        b.grad = None
    if step % 10 == 0:
        print(f"step {step:2d}: loss {loss.item():.5f}")

print(f"fitted: w={w.item():.4f} b={b.item():.4f}")

# %%
# The same with ``nn.Linear``
# ---------------------------
#
# A :class:`~torch.nn.Linear` layer with one input and one output holds
# :math:`w` and :math:`b`; an optimizer from :mod:`torch.optim` does the step.
# See `the optimizer docs`_ for more.
#
# .. _the optimizer docs: https://pytorch.org/docs/stable/optim.html

model = torch.nn.Linear(1, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
print(model)

for step in range(40):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x[:, None]).squeeze(1), y)
    loss.backward()
    optimizer.step()

# %%
# Evaluating
# ~~~~~~~~~~
#
# The trained layer should agree with the hand-made fit within a few
# thousandths; the *slope* is :math:`\approx 2`.

with torch.no_grad():
    slope = model.weight.item()
    print(f"nn.Linear: w={slope:.4f} b={model.bias.item():.4f}")
    print(f"agrees with the hand fit: {math.isclose(slope, w.item(), abs_tol=5e-3)}")

# sphinx_gallery_thumbnail_number = 1
