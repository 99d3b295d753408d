"""What a figure shows, as the lines `doit check` compares (the check itself is tested through doit in
test_check.py)."""

from __future__ import annotations

import pytest

from lecturebuild.check.compare import lines_agree
from lecturebuild.run.figures import describe

pyplot = pytest.importorskip("matplotlib.pyplot")
numpy = pytest.importorskip("numpy")


@pytest.fixture(autouse=True)
def agg_backend():
    pyplot.switch_backend("Agg")
    yield
    pyplot.close("all")


def test_lines_bars_points_texts_and_chosen_tick_labels_are_described():
    fig, (left, right) = pyplot.subplots(1, 2)
    left.plot([1, 2, 3], [0.5, 0.25, 0.125], label="loss")
    left.scatter([1, 2], [3, 4])
    left.text(2, 0.3, "minimum")
    left.legend()
    left.set(title="Training", xlabel="epoch", ylabel="loss", yscale="log")
    right.bar(["RNN", "LSTM"], [0.5, 0.9])
    fig.suptitle("Two panels")
    lines = describe(fig)
    assert lines[0] == "title: Two panels"
    assert "axes 1: title 'Training', x 'epoch' (linear), y 'loss' (log)" in lines
    assert "axes 1 legend: loss" in lines
    assert "axes 1 line 1 'loss' y (log10): -0.30103 -0.60206 -0.90309" in lines  # log axis: orders of magnitude
    assert "axes 1 points 1 x: 1.0 2.0" in lines and "axes 1 points 1 y (log10): 0.477121 0.60206" in lines and "axes 1 text: minimum" in lines
    assert "axes 2 bars height: 0.5 0.9" in lines
    assert "axes 2 x tick labels: RNN | LSTM" in lines  # categories the author chose
    assert not any(line.startswith("axes 1 x tick labels") for line in lines)  # automatic ticks are not content


def test_images_are_summarised_as_block_means_and_long_series_are_split():
    fig, ax = pyplot.subplots()
    ax.imshow(numpy.arange(64 * 32, dtype=float).reshape(64, 32))
    ax.plot(numpy.arange(25.0))
    fig.colorbar(ax.images[0], label="value")
    lines = describe(fig)
    assert "axes 1 image 1: 64 x 32, min 0.0, max 2047.0" in lines
    blocks = [line for line in lines if "row block" in line]
    assert len(blocks) == 8 and all(len(line.split(": ")[1].split()) == 8 for line in blocks)
    assert "axes 1 line 1 y [20:]: 20.0 21.0 22.0 23.0 24.0" in lines
    assert "colorbar: value" in lines and not any(line.startswith("axes 2") for line in lines)


def test_plotted_numbers_are_floats_so_the_check_compares_them_within_tolerance():
    fig, ax = pyplot.subplots()
    ax.plot([100000.0, 2.0])
    (line,) = [entry for entry in describe(fig) if " y: " in entry]
    assert line.endswith("y: 100000.0 2.0")
    assert lines_agree(line, line.replace("100000.0", "100001.0"), tolerance=1e-3)  # within 0.1 %
    assert not lines_agree(line, line.replace("2.0", "3.0"), tolerance=1e-3)


def test_bands_error_bars_figure_texts_and_long_series_are_described_compactly():
    fig, ax = pyplot.subplots()
    ax.fill_between([0, 1], [0, 1], [1, 2])
    ax.errorbar([1, 2], [1, 2], yerr=[0.1, 0.2])
    ax.plot(numpy.linspace(0, 1, 10_000))
    fig.text(0.5, 0.01, "source: a real run")
    lines = describe(fig)
    assert "axes 1 shapes 1 y: 1.0 0.0 1.0 2.0 2.0 1.0 1.0" in lines  # the band's outline
    assert "axes 1 shapes 2 y: 0.9 1.1 1.8 2.2" in lines  # the error bars
    assert "axes 1 line 2 y: 10000 points, min 0.0, max 1.0" in lines
    assert len([line for line in lines if line.startswith("axes 1 line 2 y")]) == 11  # 100 bin means, 10 a line
    assert "figure text: source: a real run" in lines
    empty = pyplot.figure()
    empty.text(0.5, 0.5, "Only text")
    assert describe(empty) == ("figure: no axes", "figure text: Only text")
