"""The instructor's steps, each a function the CLI (``python -m instructor``) and the tests call.

Every nbgrader step runs the ``nbgrader`` command of this environment in the repository root, so
``nbgrader_config.py`` applies; ``root`` selects the course folder (the repository for a real class,
``build/demo_class`` for the demo, a temporary folder in the tests).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import nbformat

from .grading import record as grading_record
from .grading.intake import solution_cell_ids  # noqa: F401  (re-exported for the tests)
from .notebooks import ROOT, dumps, labs, source_notebook

BUILD = ROOT / "build"


# ---------------------------------------------------------------- executing the solution notebooks
def execute(lab: str, mode: str = "quick", output_dir: Path = BUILD / "executed",
            extra_parameters: dict | None = None, kernel_name: str = "python3") -> float:
    """Run a lab's solution notebook with papermill in ``mode``; returns the wall time in seconds.

    The executed copy (with outputs and plots) is written to ``output_dir/<lab>.ipynb``. Raises
    ``papermill.PapermillExecutionError`` naming the failing cell when a cell errors. ``kernel_name``
    picks another Jupyter kernel (``make colab-check`` runs the notebooks on Colab's versions).
    """
    import papermill

    output_dir.mkdir(parents=True, exist_ok=True)
    parameters = {"MODE": mode, **(extra_parameters or {})}
    start = time.perf_counter()
    papermill.execute_notebook(str(source_notebook(lab)), str(output_dir / f"{lab}.ipynb"),
                               parameters=parameters, cwd=str(source_notebook(lab).parent),
                               kernel_name=kernel_name, progress_bar=False, log_output=False)
    return time.perf_counter() - start


def reference_parameters(lab: str, reference_dir: Path | None) -> dict:
    """Extra parameters for labs that write cross-framework artifacts (they declare REFERENCE_DIR)."""
    nb = nbformat.read(source_notebook(lab), as_version=4)
    declares = any("parameters" in c.metadata.get("tags", []) and "REFERENCE_DIR" in c.source
                   for c in nb.cells)
    return {"REFERENCE_DIR": str(reference_dir)} if declares and reference_dir is not None else {}


# ------------------------------------------------------------------------------------ nbgrader
from .course import CourseFolder, nbgrader  # noqa: E402  (the one nbgrader runner, shared with the grading stages)


def release(root: Path = ROOT, only: list[str] | None = None) -> list[Path]:
    """``nbgrader generate_assignment`` for every lab of ``root/source``; returns the student notebooks.

    Each release is checked for leaks (solution or hidden-test markers) before it is accepted.
    """
    written = []
    for lab in only or labs(root):
        nbgrader("generate_assignment", lab, "--force", root=root)
        notebook = CourseFolder(root).released(lab)
        text = notebook.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            if marker in text:
                raise RuntimeError(f"{notebook} still contains {marker!r}: a solution or hidden test leaked")
        written.append(notebook)
    return written


def autograde(lab: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    """Autograde every submission of ``lab`` with plain nbgrader, the stock command in a process of its own
    (the baseline of ``make bench-grading``). nbgrader goes on past a failing student and exits 1."""
    return nbgrader("autograde", lab, "--force", root=root, check=False, fresh_process=True)


def feedback(lab: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    return grading_record.feedback(lab, root)


def export(root: Path = ROOT, to: Path | None = None) -> Path:
    """Grades of every student and lab as CSV (nbgrader's export format)."""
    return grading_record.export(root, to)


def collect(downloads: Path, lab: str, root: Path = ROOT):
    """Copy an LMS download (its zip file or a folder: zips, per-student folders, renamed notebooks)
    into nbgrader's ``submitted/``; returns an :class:`instructor.lms.Collected` (see that module)."""
    from . import lms

    return lms.collect(downloads, lab, root)


# ------------------------------------------------------------------------------------ demo class
def partial_submission(source: nbformat.NotebookNode, released: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release notebook with only the FIRST exercise answered (its solution cell from the source).

    Course rule (tests/test_labs.py checks it): the grade cells between solution cell k and solution
    cell k+1 test exercise k only, so this submission earns exactly their points.
    """
    first = solution_cell_ids(source)[0]
    answer = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == first)
    nb = nbformat.from_dict(released)
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == first:
            nb.cells[i] = nbformat.from_dict(answer)
    return nb


def points_of_first_exercise(source: nbformat.NotebookNode) -> float:
    """Points of the grade cells that follow the first solution cell and precede the second."""
    from .lab import LabNotebook

    return next(iter(LabNotebook(source).exercises.values())).points


def demo_mistake(lab: str) -> "mutants.Mutant":
    """The lab's first catalogued mistake (tests/mutants/<lab>.py): the demo class's wrong answer."""
    from . import mutants

    return next(m for m in mutants.load_mutants(lab) if not m.diagnosis_only)


def mistake_submission(lab: str, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution with the lab's first catalogued mistake in its cell (the diagnosis names it)."""
    mistake = demo_mistake(lab)
    nb = nbformat.from_dict(source)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == mistake.cell)
    cell.source = mistake.apply(cell.source)
    return nb


DEMO_STUDENTS = ("demo-solution", "demo-untouched", "demo-partial", "demo-mistake")


def build_demo_class(root: Path, only: list[str] | None = None) -> Path:
    """A fresh course folder with the labs released and four synthetic students' submissions: the
    solution, the untouched release, the first exercise only, and the lab's first catalogued mistake."""
    if root.exists():
        shutil.rmtree(root)
    (root / "source").mkdir(parents=True)
    chosen = only or labs()
    for lab in chosen:
        shutil.copytree(ROOT / "source" / lab, root / "source" / lab)
    release(root, chosen)
    folder = CourseFolder(root)
    for lab in chosen:
        source = nbformat.read(folder.source(lab), as_version=4)
        released = nbformat.read(folder.released(lab), as_version=4)
        answers = (source, released, partial_submission(source, released), mistake_submission(lab, source))
        for student, nb in zip(DEMO_STUDENTS, answers):
            target = folder.submitted(student, lab)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(dumps(nb))
    return root


# ------------------------------------------------------------------------------------ grading
# The grading stages live in instructor/grading/ (intake, scan, run, record, report, dispatch).
from .grading import (STATUSES, CourseError, Grade, GradingRun, Limits, Outcome, Stages, Status,  # noqa: E402,F401
                      class_report, grade_class, grade_table, grades, read_grades_csv, summary)
