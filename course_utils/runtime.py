"""Run-time choices shared by every lab: quick/full mode, seeding, where we run.

Framework-neutral: nothing here imports torch or TensorFlow. ``seed_everything`` seeds a framework
only if the notebook has already imported it.
"""
from __future__ import annotations

import os
import random
import sys
import time
from typing import Any, Mapping

import numpy as np

MODES = ("quick", "full")


def is_autograder() -> bool:
    """True while nbgrader executes the notebook (``nbgrader autograde`` or ``validate``)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def resolve_mode(mode: str) -> str:
    """Return the mode this run really uses.

    ``mode`` is the notebook's ``MODE`` parameter (``"quick"`` or ``"full"``). Under the autograder the
    answer is always ``"quick"``: the full experiments are never re-run for every student.
    """
    if mode not in MODES:
        raise ValueError(f"MODE must be one of {MODES}, got {mode!r}")
    if is_autograder():
        return "quick"
    return mode


def choose_sizes(mode: str, quick: Mapping[str, Any], full: Mapping[str, Any]) -> dict:
    """Pick the knob values of ``resolve_mode(mode)`` from the notebook's QUICK and FULL tables.

    Both tables must name the same knobs, so that quick mode runs exactly the same code.
    """
    if set(quick) != set(full):
        raise ValueError(f"QUICK and FULL must name the same knobs; only in one of them: "
                         f"{sorted(set(quick) ^ set(full))}")
    return dict(quick if resolve_mode(mode) == "quick" else full)


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and (when already imported) PyTorch's and TensorFlow's RNGs."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)  # seeds the CPU and every CUDA device
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)  # Python, NumPy and the backend
    elif "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)


def describe(mode: str, sizes: Mapping[str, Any]) -> str:
    """One line that says how this run is sized (printed by every setup cell)."""
    where = "autograder" if is_autograder() else ("Colab" if in_colab() else "local")
    knobs = ", ".join(f"{k}={v}" for k, v in sizes.items())
    return f"mode={resolve_mode(mode)} ({where}): {knobs}"


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Projection:
    """Says once, in the first seconds of a long loop, how long the whole loop will take on this machine.

    ``total`` is the loop's work in ``unit`` (steps, images, ...); call ``advance(n)`` after each piece of
    work. The rate is measured from the end of the first piece on, so that one-time costs of the first
    step (tracing, autotuning, caches) do not inflate the projection. One line is printed as soon as
    ``min_units`` are done and either ``min_seconds`` have passed since the first piece or a twentieth of
    the work is done. In full mode (``resolve_mode(mode) == "full"``) the line also says how to switch to
    quick mode. ``note`` is appended in parentheses: say there what the first pieces' rate may not
    represent (a sweep whose later runs go faster per unit, for example).

    Example::

        eta = Projection("BN/GN sweep", total=2 * 6 * 512, unit="images", mode=MODE, device=str(DEVICE))
        for batch in batches:
            ...
            eta.advance(len(batch))
    """

    def __init__(self, what: str, total: float, *, unit: str = "steps", mode: str = "quick", device: str = "",
                 note: str = "", min_units: float = 3, min_seconds: float = 3.0, clock=None, out=print):
        if not total > 0:
            raise ValueError(f"total must be positive, got {total!r}")
        if not min_units >= 2:
            raise ValueError(f"min_units must be at least 2 (the first piece is not timed), got {min_units!r}")
        resolve_mode(mode)  # validates it
        self.what, self.total, self.unit, self.mode, self.device, self.note = what, total, unit, mode, device, note
        self.min_units, self.min_seconds = min_units, min_seconds
        self.clock, self.out = clock or time.perf_counter, out
        self.start = self.clock()
        self.done = 0.0
        self.first: tuple[float, float] | None = None  # (units, seconds) at the end of the first piece
        self.line: str | None = None

    def projected_seconds(self) -> float | None:
        """The whole loop's projected wall time, or None before two pieces are done."""
        if self.first is None or self.done <= self.first[0]:
            return None
        units0, seconds0 = self.first
        rate = (self.clock() - self.start - seconds0) / (self.done - units0)
        return seconds0 + rate * (self.total - units0)

    def advance(self, n: float = 1) -> str | None:
        """Record ``n`` more units done; returns the line when this call printed it."""
        self.done += n
        elapsed = self.clock() - self.start
        if self.first is None:
            self.first = (self.done, elapsed)
            return None
        if self.line is not None or self.done < self.min_units:
            return None
        if elapsed - self.first[1] < self.min_seconds and self.done < self.total / 20:  # too little timed yet
            return None
        where = f" ({self.device})" if self.device else ""
        line = (f"{self.what}: {self.done:g} of {self.total:g} {self.unit} in {elapsed:.1f} s; "
                f"about {_duration(self.projected_seconds())} in all on this machine{where}")
        if self.note:
            line += f" ({self.note})"
        if resolve_mode(self.mode) == "full":
            line += ". Too long here? Set MODE = \"quick\" in the parameters cell and run all cells again"
        self.line = line
        self.out(line)
        return line
