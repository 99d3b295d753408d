"""What a matplotlib figure shows, as lines of text that `doit check` compares like printed output.

PNG bytes change with the fonts, the matplotlib version and the last bit of a float, so comparing
them calls a figure drifted when nothing a student sees has changed. These lines describe what a
reader sees instead: titles, axis labels, scales, limits, legend entries, the data of every line,
bar, scatter, band and error bar (a series longer than MAX_POINTS as bin means), images as a coarse
grid of block means, and any text on the axes or the figure. On a log axis the data is described by
its log10, so a tolerance means the same for 1e-17 as for 1e+3.
Numbers are written as floats with 6 significant digits and compared within the check's float tolerance;
words are compared exactly. Runs inside a worker's child, where matplotlib and numpy are loaded.
"""

from __future__ import annotations

NUMBERS_PER_LINE = 10  # long series are split, so a diff points at the part that moved
MAX_POINTS = 200  # a longer series is described by BINS bin means with its count, minimum and maximum
BINS = 100
IMAGE_GRID = 8  # images are summarised as at most IMAGE_GRID x IMAGE_GRID block means
CHOSEN_LABELS = ("FixedFormatter", "StrCategoryFormatter")  # tick labels the author set, or categories


def describe(figure) -> tuple[str, ...]:
    lines = []
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        lines.append(f"title: {suptitle.get_text()}")
    axes = [ax for ax in figure.get_axes() if ax.get_label() != "<colorbar>"]
    if not axes:
        lines.append("figure: no axes")
    for number, ax in enumerate(axes, start=1):
        lines += _axes(f"axes {number}", ax)
    for ax in figure.get_axes():
        if ax.get_label() == "<colorbar>":
            lines.append(f"colorbar: {ax.get_ylabel() or ax.get_xlabel()}")
    lines += [f"figure text: {text.get_text()}" for text in figure.texts if text.get_text()]
    for legend in figure.legends:
        lines.append(f"figure legend: {' | '.join(t.get_text() for t in legend.get_texts())}")
    return tuple(lines)


def _axes(name: str, ax) -> list[str]:
    log_x, log_y = ax.get_xscale() == "log", ax.get_yscale() == "log"

    def limits(values, log: bool) -> str:
        return _numbers([_log10(float(v)) for v in values]) + " (log10)" if log else _numbers(values)

    lines = [f"{name}: title {ax.get_title()!r}, x {ax.get_xlabel()!r} ({ax.get_xscale()}), "
             f"y {ax.get_ylabel()!r} ({ax.get_yscale()})",
             f"{name} limits: x {limits(ax.get_xlim(), log_x)}, y {limits(ax.get_ylim(), log_y)}"]
    for axis, letter in ((ax.xaxis, "x"), (ax.yaxis, "y")):
        formatter = axis.get_major_formatter()
        if type(formatter).__name__ in CHOSEN_LABELS:
            labels = [formatter(location, i) for i, location in enumerate(axis.get_ticklocs())]
            lines.append(f"{name} {letter} tick labels: {' | '.join(labels)}")
    legend = ax.get_legend()
    if legend is not None:
        lines.append(f"{name} legend: {' | '.join(t.get_text() for t in legend.get_texts())}")
    for index, line in enumerate(ax.get_lines(), start=1):
        label = line.get_label()
        title = f"{name} line {index}" + (f" {label!r}" if not label.startswith("_") else "")
        lines += _series(f"{title} x", line.get_xdata(), log_x)
        lines += _series(f"{title} y", line.get_ydata(), log_y)
    lines += _patches(name, ax)
    for index, collection in enumerate(ax.collections, start=1):
        offsets = collection.get_offsets()
        if len(offsets) > 1 or (len(offsets) == 1 and any(offsets[0])):  # scatter: the points
            x, y = offsets[:, 0], offsets[:, 1]
            kind = "points"
        else:  # fill_between, error bars, line collections: the shapes' vertices
            vertices = [v for path in collection.get_paths() for v in path.vertices]
            x, y = [v[0] for v in vertices], [v[1] for v in vertices]
            kind = "shapes"
        lines += _series(f"{name} {kind} {index} x", x, log_x)
        lines += _series(f"{name} {kind} {index} y", y, log_y)
    for index, image in enumerate(ax.get_images(), start=1):
        lines += _image(f"{name} image {index}", image.get_array())
    for text in ax.texts:
        lines.append(f"{name} text: {text.get_text()}")
    return lines


def _patches(name: str, ax) -> list[str]:
    """Bars (and histograms) as their positions and heights."""
    from matplotlib.patches import Rectangle

    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    if not bars:
        return []
    return (_series(f"{name} bars x", [b.get_x() for b in bars]) + _series(f"{name} bars width", [b.get_width() for b in bars])
            + _series(f"{name} bars height", [b.get_height() for b in bars]))


def _image(name: str, array) -> list[str]:
    import numpy

    data = numpy.ma.filled(numpy.ma.asarray(array, dtype=float), numpy.nan)
    if data.ndim == 3:  # RGB(A): describe its brightness
        data = data[..., :3].mean(axis=2)
    rows, cols = data.shape[:2]
    lines = [f"{name}: {rows} x {cols}, min {_number(numpy.nanmin(data))}, max {_number(numpy.nanmax(data))}"]
    row_edges = numpy.linspace(0, rows, min(rows, IMAGE_GRID) + 1).astype(int)
    col_edges = numpy.linspace(0, cols, min(cols, IMAGE_GRID) + 1).astype(int)
    for r in range(len(row_edges) - 1):
        block_means = [numpy.nanmean(data[row_edges[r]:row_edges[r + 1], col_edges[c]:col_edges[c + 1]])
                       for c in range(len(col_edges) - 1)]
        lines.append(f"{name} row block {r + 1}: {_numbers(block_means)}")
    return lines


def _series(name: str, values, log: bool = False) -> list[str]:
    """A plotted series. On a log axis a reader sees orders of magnitude, so it is described by the
    values' log10: a tolerance then applies to the position on the axis, for 1e-17 as for 1e+3."""
    values = [_plain(v) for v in values]
    if log:
        values = [_log10(v) for v in values]
        name = f"{name} (log10)"
    if not values:
        return [f"{name}: (none)"]
    if len(values) > MAX_POINTS and all(isinstance(v, float) for v in values):
        return _binned(name, values)
    chunks = [values[i:i + NUMBERS_PER_LINE] for i in range(0, len(values), NUMBERS_PER_LINE)]
    if len(chunks) == 1:
        return [f"{name}: {_numbers(values)}"]
    return [f"{name} [{i * NUMBERS_PER_LINE}:]: {_numbers(chunk)}" for i, chunk in enumerate(chunks)]


def _binned(name: str, values: list[float]) -> list[str]:
    """A long series as its count, minimum, maximum and BINS bin means (a diff stays readable)."""
    import numpy

    data = numpy.asarray(values, dtype=float)
    edges = numpy.linspace(0, len(data), BINS + 1).astype(int)
    means = [numpy.nanmean(data[a:b]) if numpy.isfinite(data[a:b]).any() else numpy.nan
             for a, b in zip(edges[:-1], edges[1:])]
    head = f"{name}: {len(data)} points, min {_number(numpy.nanmin(data))}, max {_number(numpy.nanmax(data))}"
    chunks = [means[i:i + NUMBERS_PER_LINE] for i in range(0, BINS, NUMBERS_PER_LINE)]
    return [head] + [f"{name} bin means [{i * NUMBERS_PER_LINE}:]: {_numbers(chunk)}" for i, chunk in enumerate(chunks)]


def _log10(value):
    import math

    if not isinstance(value, float):
        return value
    return math.log10(value) if value > 0 else (-math.inf if value == 0 else math.nan)


def _plain(value):
    """A plotted value as a number or text (categorical axes plot strings; dates are left as text)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _numbers(values) -> str:
    return " ".join(_number(v) if isinstance(v, float) or hasattr(v, "__float__") else str(v) for v in values)


def _number(value) -> str:
    """6 significant digits, always written as a float ("2.0", not "2"): the check compares integers
    exactly and floats within its tolerance, and plotted data is float data."""
    value = float(f"{float(value):.6g}")
    return repr(value + 0.0) if value == value else "nan"  # + 0.0 turns -0.0 into 0.0
