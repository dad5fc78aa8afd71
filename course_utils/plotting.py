"""Matplotlib helpers shared by the labs (no framework imports)."""
from __future__ import annotations

import re

import numpy as np


def plot_spread(ax, groups: dict, ylabel: str, title: str = "", seed: int = 0):
    """Strip plot: one column of jittered points per group.

    ``groups`` maps a label to a 1-D array of values (for example one example's predicted
    probability across many trials). Each column also shows its range as a vertical bar.
    """
    rng = np.random.default_rng(seed)
    for i, (label, values) in enumerate(groups.items()):
        values = np.asarray(values, dtype=float).ravel()
        ax.scatter(i + rng.uniform(-0.15, 0.15, size=values.size), values, s=12, alpha=0.6)
        ax.vlines(i + 0.25, values.min(), values.max(), color="k", lw=2)
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def plot_curves(ax, curves: dict, xlabel: str, ylabel: str, title: str = ""):
    """Line plot of several named 1-D curves against their index (epochs, steps)."""
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label, marker="o", ms=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


_SPEC = re.compile(r"^(?P<align>[<>^]?)[+\- ]?(?P<width>\d+)")


def format_table(columns, rows) -> str:
    """Rows of values as a fixed-width text table.

    ``columns`` is a sequence of ``(header, spec)`` pairs, where ``spec`` is a format
    specification with a width, e.g. ``"<4s"``, ``"7d"``, ``"+10.4f"``, ``"11.1%"``; each header
    is aligned like its column (left for ``<``, right otherwise). ``rows`` yields sequences with
    one value per column.
    """
    widths, aligns = [], []
    for header, spec in columns:
        match = _SPEC.match(spec)
        if match is None:
            raise ValueError(f"format_table: column {header!r} needs a width in its spec, got {spec!r}")
        widths.append(int(match["width"]))
        aligns.append("<" if match["align"] == "<" else ">")
    lines = ["".join(f"{header:{a}{w}s}" for (header, _), a, w in zip(columns, aligns, widths))]
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"format_table: a row has {len(row)} values for {len(columns)} columns: {row!r}")
        lines.append("".join(format(value, spec) for value, (_, spec) in zip(row, columns)))
    return "\n".join(lines)


def sweep_table(norms, batch_sizes, columns: dict) -> str:
    """The batch-size sweep of pt04/tf04 as a table: one row per (normalization, batch size).

    ``columns`` maps a header to ``(values, spec)``, where ``values`` has shape
    ``(len(norms), len(batch_sizes))``; integer specs (``"7d"``) round their values.
    """
    for header, (values, _) in columns.items():
        if np.shape(values) != (len(norms), len(batch_sizes)):
            raise ValueError(f"sweep_table: column {header!r} has shape {np.shape(values)}, "
                             f"expected {(len(norms), len(batch_sizes))} (norms x batch sizes)")
    specs = [("", "<4s"), ("B", "4d")] + [(header, spec) for header, (_, spec) in columns.items()]

    def cell(values, spec, i, j):
        value = np.asarray(values)[i, j]
        return int(round(float(value))) if spec.endswith("d") else float(value)

    rows = [[kind.upper(), int(b)] + [cell(values, spec, i, j) for values, spec in columns.values()]
            for i, kind in enumerate(norms) for j, b in enumerate(batch_sizes)]
    return format_table(specs, rows)


# Wu & He (2018), "Group Normalization", Figure 1 / Table 3: ResNet-50 on ImageNet, top-1
# validation error (%) with the batch size per GPU; quoted, never measured by the course.
GN_PAPER = {"batch": (32, 16, 8, 4, 2), "bn": (23.6, 23.7, 24.8, 27.3, 34.7), "gn": (24.1, 24.2, 24.0, 24.2, 24.1)}


def plot_gn_paper(ax, batch=GN_PAPER["batch"], bn=GN_PAPER["bn"], gn=GN_PAPER["gn"]):
    """The GN paper's headline panel, with the batch axis growing to the right like the
    measured panels beside it, and labelled as quoted numbers rather than this run's."""
    order = np.argsort(batch)
    batch, bn, gn = (np.asarray(v, dtype=float)[order] for v in (batch, bn, gn))
    ax.plot(batch, bn, "o-", color="C0", label="BN")
    ax.plot(batch, gn, "o-", color="C1", label="GN (G=32)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(batch, [str(int(b)) for b in batch])
    ax.set_xlabel("images per GPU (batch size)")
    ax.set_ylabel("ImageNet top-1 error (%)")
    ax.set_title("QUOTED, not this run: Wu & He 2018,\nResNet-50 on ImageNet")
    ax.set_facecolor("0.95")
    ax.legend()
    return ax
