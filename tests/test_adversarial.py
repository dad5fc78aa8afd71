"""Hostile classrooms: tampered, broken and renamed submissions built from each lab's own notebooks.

For every case the grading run completes, the student has a CSV row and a feedback file, the score is
what the work earned (tampering earns nothing) and the report line says what happened. Static cases
(unreadable files, tampering) and structural cases run against every lab; the cases that exercise the
sandbox's runtime limits (infinite loop, kernel death, segfault, memory) run against one lab per
framework, since they test the grading machinery rather than a lab's content.
"""
import copy
import json
import re

import nbformat
import pytest

from instructor import pipeline
from instructor.notebooks import ROOT, labs
from instructor.safety import locked_context

LABS = labs()
RUNTIME_LABS = [lab for lab in ("pt01_batchnorm", "tf01_batchnorm") if lab in LABS]
LIMITS = pipeline.Limits(cell_seconds=40, notebook_seconds=400)


# ----------------------------------------------------------------------------------- building cases
class Lab:
    """A lab's notebooks and the facts the expectations need."""

    def __init__(self, lab):
        self.id = lab
        self.source = nbformat.read(ROOT / "source" / lab / f"{lab}.ipynb", as_version=4)
        self.release = nbformat.read(ROOT / "release" / lab / f"{lab}.ipynb", as_version=4)
        self.solutions = pipeline.solution_cell_ids(self.source)
        self.full = sum(c.metadata["nbgrader"].get("points", 0) for c in self.source.cells
                        if c.metadata.get("nbgrader", {}).get("grade"))
        after_last, seen = 0, False
        for c in self.source.cells:
            meta = c.metadata.get("nbgrader", {})
            seen = seen or meta.get("grade_id") == self.solutions[-1]
            after_last += meta.get("points", 0) if seen and meta.get("grade") else 0
        self.last_exercise_points = after_last  # grade cells after the last solution cell
        self.helper = sorted(locked_context(self.source)[1])[0]
        self.torch = lab.startswith("pt")

    def solved(self):
        return copy.deepcopy(self.source)

    def cell(self, nb, grade_id):
        return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)

    def with_last_solution(self, prefix="", suffix=""):
        nb = self.solved()
        cell = self.cell(nb, self.solutions[-1])
        cell.source = prefix + cell.source + suffix
        return nb


def dump(nb):
    return nbformat.writes(nb, version=nbformat.NO_CONVERT)


def messy_but_correct(lab: Lab) -> tuple[str, str]:
    """Everything a real classroom does to a correct notebook, at once; it must still score full marks."""
    nb = lab.solved()
    nb.metadata = {"colab": {"provenance": [], "name": f"Copy of {lab.id}.ipynb"}, "accelerator": "GPU",
                   "language_info": {"name": "python"}}  # Colab: no kernelspec
    nb.nbformat_minor = 4  # an older minor version: no cell ids
    for cell in nb.cells:
        cell.pop("id", None)
        cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
        cell.metadata["outputId"] = "3f2a"
    first_test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    first_solution = lab.cell(nb, lab.solutions[0])
    # a framework-style warning raised from the student's own code while the tests run
    first_solution.source = re.sub(r"(\n([ \t]*)### BEGIN SOLUTION\n)",
                                   r'\1\2import warnings; warnings.warn("this API is deprecated", UserWarning)\n',
                                   first_solution.source, count=1)
    first_solution.source = "import warnings\n" + first_solution.source
    # obfuscated reads of what the sandbox hides (the scan cannot see them), and megabytes of output
    probe = nbformat.v4.new_code_cell(
        "p = ''.join(map(chr, [46, 46, 47, 46, 46, 47, 46, 46, 47]))\n"
        "import pathlib\n"
        "print('hidden-bytes', len(pathlib.Path(p + 'grade' + 'book.db').read_bytes()),\n"
        "      'hidden-entries', len(list(pathlib.Path(p + 'sour' + 'ce').iterdir())))\n"
        "print('x' * 3_000_000)")
    cells = []
    for cell in nb.cells:
        if cell is first_test:
            continue  # deleted test cell: nbgrader restores it
        cells.append(cell)
        if cell is first_solution:
            cells.append(copy.deepcopy(cell))  # duplicated
            cells.append(nbformat.v4.new_markdown_cell("my notes"))
            cells.append(probe)
    retyped = lab.cell(nb, "setup")
    retyped.cell_type = "raw"
    retyped.pop("outputs", None), retyped.pop("execution_count", None)
    nb.cells = cells
    return f"Copy of {lab.id}.ipynb", json.dumps(nb)


TAMPERING = {
    "patch-comparison": lambda lab: (
        "import torch\ntorch.testing.assert_close = lambda *args, **kwargs: None\n" if lab.torch else
        "import numpy as np\nnp.testing.assert_allclose = lambda *args, **kwargs: None\n"),
    "patch-framework-check": lambda lab: (
        "torch.allclose = lambda *args, **kwargs: True\n" if lab.torch else
        "import tensorflow as tf\ntf.debugging.assert_near = lambda *args, **kwargs: None\n"),
    "always-equal": lambda lab: ("class Anything:\n    def __eq__(self, other):\n        return True\n"),
    "overwrite-helper": lambda lab: f"def {lab.helper}(*args, **kwargs):\n    return None\n",
    "read-gradebook": lambda lab: "hidden = open('../../../gradebook.db', 'rb').read()\n",
    "read-source": lambda lab: f"hidden = open('../../../source/{lab.id}/{lab.id}.ipynb').read()\n",
    "detect-autograder": lambda lab: "import os\nGRADING = 'NBGRADER_EXECUTION' in os.environ\n",
    "patch-builtins": lambda lab: "import builtins\nbuiltins.AssertionError = Warning\n",
}
UNREADABLE = {"empty-file": "", "malformed-json": '{"cells": [{"cell_type": ',
              "not-a-notebook": "%PDF-1.4 binary junk \x00\x01"}


def build_class(tmp_path, lab, submissions):
    """A course folder with the lab released and ``submissions`` = {student: (file name, text)}."""
    import shutil

    root = tmp_path / "class"
    shutil.copytree(ROOT / "source" / lab, root / "source" / lab)
    pipeline.release(root, [lab])
    for student, (name, text) in submissions.items():
        folder = root / "submitted" / student / lab
        folder.mkdir(parents=True)
        (folder / name).write_text(text)
    return root


def grade(root, lab):
    rows, outcomes = pipeline.grade_class(root, [lab], progress=False, limits=LIMITS)
    scores = {g.student: g.score for g in rows}
    by_student = {o.student: o for o in outcomes}
    report = pipeline.summary(rows, outcomes)
    csv_students = {r["student_id"] for r in pipeline.read_grades_csv(root / "grades.csv")}
    for student in by_student:  # nothing is lost
        assert student in csv_students, f"{student} has no row in grades.csv"
        assert (root / "feedback" / student / lab / f"{lab}.html").exists(), f"{student} has no feedback"
    return scores, by_student, report


def report_line(report, lab, student):
    lines = [ln for ln in report.splitlines() if ln.strip().startswith(f"{lab} {student}:")]
    assert lines, f"no report line for {student}:\n{report}"
    return lines[0]


# ----------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("lab_id", LABS)
def test_unreadable_and_tampered_submissions_earn_zero_without_running(lab_id, tmp_path):
    lab = Lab(lab_id)
    submissions = {name: (f"{lab_id}.ipynb", text) for name, text in UNREADABLE.items()}
    for name, make in TAMPERING.items():
        nb = lab.with_last_solution(prefix=make(lab))
        submissions[name] = (f"{lab_id}.ipynb", dump(nb))
    root = build_class(tmp_path, lab_id, submissions)
    scores, outcomes, report = grade(root, lab_id)
    for name in UNREADABLE:
        assert outcomes[name].status == "unreadable" and scores[name] == 0, report
        assert "UNREADABLE - unreadable" in report_line(report, lab_id, name)
    for name in TAMPERING:
        assert outcomes[name].status == "tampering" and scores[name] == 0, report
        line = report_line(report, lab_id, name)
        assert f"TAMPERING - cell {lab.solutions[-1]}" in line, line
        assert not (root / "autograded" / name).exists(), "tampered code must not run"
    assert f"unreadable: {len(UNREADABLE)}, tampering: {len(TAMPERING)}" in report.splitlines()[0]


@pytest.mark.parametrize("lab_id", LABS)
def test_messy_and_incomplete_submissions_are_graded_on_their_merit(lab_id, tmp_path):
    lab = Lab(lab_id)
    no_last = lab.solved()
    no_last.cells = [c for c in no_last.cells if c.metadata.get("nbgrader", {}).get("grade_id") != lab.solutions[-1]]
    submissions = {"messy": messy_but_correct(lab),
                   "deleted-solution": (f"{lab_id} (1).ipynb", dump(no_last))}
    root = build_class(tmp_path, lab_id, submissions)
    scores, outcomes, report = grade(root, lab_id)

    messy = report_line(report, lab_id, "messy")
    assert scores["messy"] == lab.full, report
    assert outcomes["messy"].status == "graded", report
    for expected in (f"renamed 'Copy of {lab_id}.ipynb'", "notebook format repaired", "restored deleted locked cells",
                     "cell type changed back: setup",
                     f"duplicated cells (the last copy counts): {lab.solutions[0]}"):
        assert expected in messy, f"{expected!r} missing from {messy!r}"
    autograded = root / "autograded" / "messy" / lab_id / f"{lab_id}.ipynb"
    text = autograded.read_text()
    assert "hidden-bytes 0 hidden-entries 0" in text, "the sandbox let student code read the gradebook or source/"
    assert autograded.stat().st_size < 1_000_000, "megabytes of output were kept"

    assert scores["deleted-solution"] == lab.full - lab.last_exercise_points, report
    assert f"solution cells deleted (their tests fail): {lab.solutions[-1]}" in report_line(report, lab_id, "deleted-solution")


@pytest.mark.parametrize("lab_id", RUNTIME_LABS)
def test_runaway_code_is_stopped_and_the_rest_is_graded(lab_id, tmp_path):
    lab = Lab(lab_id)
    last = lab.solutions[-1]
    earned_without_last = lab.full - lab.last_exercise_points
    cases = {  # student: (notebook, status, score, report fragment)
        "infinite-loop": (lab.with_last_solution(prefix="while True:\n    pass\n"), "timed out",
                          earned_without_last, f"cell time limit hit in {last}"),
        "kernel-exit": (lab.with_last_solution(prefix="import os\nos._exit(1)\n"), "crashed",
                        earned_without_last, f"the kernel died in cell {last}; that cell was skipped"),
        "segfault": (lab.with_last_solution(prefix="import faulthandler\nfaulthandler._sigsegv()\n"), "crashed",
                     earned_without_last, f"the kernel died in cell {last}; that cell was skipped"),
        "memory-blowup": (lab.with_last_solution(prefix="import numpy\nblob = [numpy.empty(2**30) for _ in range(64)]\n"),
                          "graded", earned_without_last, f"memory limit hit in {last}"),
    }
    root = build_class(tmp_path, lab_id, {s: (f"{lab_id}.ipynb", dump(nb)) for s, (nb, *_) in cases.items()})
    scores, outcomes, report = grade(root, lab_id)
    for student, (_, status, score, fragment) in cases.items():
        assert outcomes[student].status == status, report
        assert scores[student] == score, report
        assert fragment in report_line(report, lab_id, student), report
    assert (root / "quarantine" / "kernel-exit" / lab_id / f"{lab_id}.ipynb").exists(), "the original must be kept"
