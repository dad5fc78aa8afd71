"""Matplotlib helpers shared by the labs (no framework imports)."""
from __future__ import annotations

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
