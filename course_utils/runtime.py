"""Run-time choices shared by every lab: quick/full mode, seeding, where we run.

Framework-neutral: nothing here imports torch or TensorFlow. ``seed_everything`` seeds a framework
only if the notebook has already imported it.
"""
from __future__ import annotations

import os
import random
import sys
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
