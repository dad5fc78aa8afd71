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


# Where small_batch_verdict's words change: a normalization "degrades" at the smallest batch when its error
# there is at least DEGRADE_RATIO times its error at the largest batch and DEGRADE_POINTS (absolute) above it.
DEGRADE_RATIO, DEGRADE_POINTS = 2.0, 0.05


def small_batch_verdict(norms, batch_sizes, errors) -> list[str]:
    """Lines for under a BN/GN sweep of test errors (fractions), worded on the numbers.

    ``errors`` has shape ``(len(norms), len(batch_sizes))``; ``norms`` must hold ``"bn"`` and ``"gn"``. The
    smallest and the largest batch size are compared for each normalization; the last line says whether the
    run shows the GN paper's finding (BatchNorm degrades at the smallest batch, GroupNorm does not).
    """
    errors = np.asarray(errors, dtype=float)
    if errors.shape != (len(norms), len(batch_sizes)):
        raise ValueError(f"errors has shape {errors.shape}, expected {(len(norms), len(batch_sizes))} "
                         f"(norms x batch sizes)")
    if not {"bn", "gn"} <= set(norms):
        raise ValueError(f"norms must include 'bn' and 'gn', got {list(norms)}")
    small, large = int(np.argmin(batch_sizes)), int(np.argmax(batch_sizes))
    b_small, b_large = batch_sizes[small], batch_sizes[large]
    degrades, lines = {}, []
    for kind in ("bn", "gn"):
        e_small, e_large = errors[list(norms).index(kind), [small, large]]
        degrades[kind] = e_small >= DEGRADE_RATIO * e_large and e_small - e_large >= DEGRADE_POINTS
        lines.append(f"{kind.upper()}: test error {100 * e_small:.2f}% at B = {b_small} vs {100 * e_large:.2f}% at "
                     f"B = {b_large}: " + ("degrades at the smallest batch" if degrades[kind] else "no sharp rise"))
    if degrades["bn"] and not degrades["gn"]:
        lines.append(f"This run shows the GN paper's finding: BatchNorm degrades at B = {b_small}, GroupNorm does not.")
    elif degrades["bn"]:
        lines.append(f"Both degrade at B = {b_small}: this run does not single out BatchNorm.")
    else:
        lines.append(f"BatchNorm does not degrade at B = {b_small} here: this run does not show the GN paper's finding.")
    lines.append(f"(the rule applied: 'degrades' = error at the smallest batch at least {DEGRADE_RATIO:g}x the "
                 f"error at the largest and at least {100 * DEGRADE_POINTS:g} points above it)")
    return lines


def small_batch_report(norms, batch_sizes, steps, errors, batch_errors, *, error_header: str = "test error (eval)",
                       batch_header: str = "train() at B") -> str:
    """The table and the verdict of a BN/GN sweep of test errors, as printable text.

    ``steps`` has shape (norms, batch sizes); ``errors`` (the model's inference mode) and ``batch_errors`` (the
    batch's statistics, in batches of B) have shape (norms, batch sizes, seeds) and hold fractions.
    """
    errors, batch_errors = np.asarray(errors, dtype=float), np.asarray(batch_errors, dtype=float)
    if errors.ndim != 3 or batch_errors.shape != errors.shape:
        raise ValueError(f"errors and batch_errors must have the same shape (norms, batch sizes, seeds), "
                         f"got {errors.shape} and {batch_errors.shape}")
    table = sweep_table(norms, batch_sizes, {
        "steps": (steps, "7d"), error_header: (errors.mean(2), f"{len(error_header) + 2}.2%"),
        "seeds: lowest": (errors.min(2), "15.2%"), "highest": (errors.max(2), "9.2%"),
        batch_header: (batch_errors.mean(2), f"{len(batch_header) + 2}.2%")})
    return "\n".join([table, *small_batch_verdict(norms, batch_sizes, errors.mean(2))])


def plot_error_sweep(ax, norms, batch_sizes, errors, title: str):
    """Test error (%) against the batch size, one line per normalization: the mean over seeds, with a bar from
    the seeds' lowest to highest. ``errors`` has shape (norms, batch sizes, seeds) and holds fractions."""
    errors = 100 * np.asarray(errors, dtype=float)
    for i, (kind, color) in enumerate(zip(norms, ("C0", "C1", "C2", "C3"))):
        mean = errors[i].mean(1)
        spread = np.stack([mean - errors[i].min(1), errors[i].max(1) - mean])
        ax.errorbar(batch_sizes, mean, yerr=spread, fmt="o-", color=color, capsize=3, label=kind.upper())
    ax.set_xscale("log", base=2)
    ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
    ax.set_xlabel("batch size B (same epochs)")
    ax.set_ylabel("test error (%)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    return ax


def plot_small_batch_sweep(norms, batch_sizes, errors, batch_errors, *, titles, run: str):
    """pt04/tf04's digits sweep beside the GN paper: test error in inference mode, test error with the batch's
    statistics (both of shape (norms, batch sizes, seeds)), and the quoted panel; ``titles`` names the two modes
    in the lab's framework, ``run`` describes this run's sizes. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, values, title in zip(axes, (errors, batch_errors), titles):
        plot_error_sweep(ax, norms, batch_sizes, values, f"this run: {title}\n{run}")
    plot_gn_paper(axes[2])
    fig.tight_layout()
    return fig
