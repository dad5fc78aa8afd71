"""One hostile classroom per lab, graded once per test session and shared by every test that asks.

The class holds the demo students (solution, untouched release, first exercise only), unreadable
files, tampered notebooks, a notebook that went through everything a real classroom does to it
("messy"), and one whose last answer was deleted. Grading it once and asserting many things on it
keeps the suite's cost at a few notebook runs per lab (tests/conftest.py: fixture ``graded_class``).
"""
import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from instructor import pipeline
from instructor.lab import LabNotebook
from instructor.notebooks import ROOT
from instructor.safety import locked_context

LIMITS = pipeline.Limits(cell_seconds=40, notebook_seconds=400)
# where a test waits for the cell limit (an infinite loop): pt01's and tf01's slowest cell takes about 1 s
# alone, so 15 s leaves room for a loaded machine and does not burn a core for 40 s
RUNAWAY_LIMITS = pipeline.Limits(cell_seconds=15, notebook_seconds=400)


# ----------------------------------------------------------------------------------- building cases
class Lab:
    """A lab's notebooks and the facts the expectations need."""

    def __init__(self, lab):
        self.id = lab
        self.source = nbformat.read(ROOT / "source" / lab / f"{lab}.ipynb", as_version=4)
        self.release = nbformat.read(ROOT / "release" / lab / f"{lab}.ipynb", as_version=4)
        facts = LabNotebook(self.source)
        self.solutions = facts.solution_ids
        self.full = facts.full
        self.last_exercise_points = facts.exercises[self.solutions[-1]].points  # grade cells after the last answer
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


def messy_but_correct(lab: Lab, course_root: Path) -> tuple[str, str]:
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
    # obfuscated reads of what the sandbox hides (the scan cannot see them), through the grading
    # folder (relative) and the course folder (absolute), and megabytes of output
    encode = lambda text: "''.join(map(chr, %r))" % [ord(ch) for ch in text]  # noqa: E731
    probe = nbformat.v4.new_code_cell(
        "import pathlib\n"
        f"places = [{encode('../../../')}, {encode(str(course_root) + '/')}]\n"
        "def size(p):\n    try:\n        return len(pathlib.Path(p).read_bytes())\n    except OSError:\n        return 0\n"
        "def entries(p):\n    try:\n        return len(list(pathlib.Path(p).iterdir()))\n    except OSError:\n        return 0\n"
        "print('hidden-bytes', sum(size(p + 'grade' + 'book.db') for p in places),\n"
        "      'hidden-entries', sum(entries(p + 'sour' + 'ce') + entries(p + 'sub' + 'mitted') for p in places))\n"
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


# Tampering added to a correct answer, in every lab's classroom: it must change nothing (verdicts are
# formed outside the kernel) and the scan must name it for review. The classes of tricks, each added to a
# wrong answer, are graded in tests/test_trust.py (pt01, tf02).
TAMPERING = {
    "patch-comparison": lambda lab: (
        "import torch\ntorch.testing.assert_close = lambda *args, **kwargs: None\n" if lab.torch else
        "import numpy as np\nnp.testing.assert_allclose = lambda *args, **kwargs: None\n"),
    "always-equal": lambda lab: ("class Anything:\n    def __eq__(self, other):\n        return True\n"),
    "read-source": lambda lab: f"hidden = open('../../../source/{lab.id}/{lab.id}.ipynb').read()\n",
}


def tampering(lab: "Lab") -> tuple[str, dict]:
    """Every kind of TAMPERING at once, as one prefix of a correct answer (one run instead of one each;
    reading a grader file last: it fails in the sandbox), and {kind: (first, last) line of the prefix}."""
    lines, where = [], {}
    for name in sorted(TAMPERING, key=lambda n: n.startswith("read-")):
        piece = TAMPERING[name](lab).splitlines()
        where[name] = (len(lines) + 1, len(lines) + len(piece))
        lines += piece
    return "\n".join(lines) + "\n", where


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


# The solution's reference data and the mistake catalogue, computed by the first classroom of a lab in a
# pytest session and handed to the next (their computation is what that first class tests; every class
# after it would compute the same thing again: 15-90 s a lab). SHARED_CACHE: set by tests/conftest.py.
SHARED_CACHE = "COURSE_TEST_SHARED_CACHE"


def _prepared(lab):
    import os

    from instructor.grading import record

    shared = os.environ.get(SHARED_CACHE)
    if not shared:
        return None, None
    digest = record.digest(ROOT / "source" / lab / f"{lab}.ipynb")
    return Path(shared) / f"{lab}-{digest[:16]}", f"{lab}-{digest[:16]}"


def seed_cache(root, lab):
    """Copy the session's prepared data for ``lab`` (if a classroom made it already) into ``root``."""
    import shutil

    shared, name = _prepared(lab)
    if shared is not None and shared.is_dir():
        shutil.copytree(shared, root / ".grading-cache" / name, dirs_exist_ok=True)


def keep_cache(root, lab):
    """Share what this classroom computed (reference, catalogue) with the session's later classrooms."""
    import os
    import shutil
    import tempfile

    shared, name = _prepared(lab)
    if shared is None or shared.exists() or not (root / ".grading-cache" / name).is_dir():
        return
    made = root / ".grading-cache" / name
    staging = Path(tempfile.mkdtemp(dir=shared.parent, prefix=f".{name}-"))
    for path in made.glob("*.json"):  # reference-*.json, mistakes-*.json (not release.ipynb: per gradebook)
        shutil.copy2(path, staging / path.name)
    try:
        os.rename(staging, shared)  # atomic; another worker may have won the race
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def grade_sharing(root, lab, **options):
    """``pipeline.grade_class(root, [lab], progress=False, **options)``, reusing the session's reference
    and catalogue of ``lab`` (or sharing what this run computes, when it is the first)."""
    seed_cache(root, lab)
    run = pipeline.grade_class(root, [lab], progress=False, **options)
    keep_cache(root, lab)
    return run


def grade(root, lab, limits=LIMITS, **options):
    """Grade ``root``'s class of ``lab`` with the test limits (reusing the session's prepared data), and
    check that nothing is lost; gives (scores, outcomes by student, summary)."""
    run = grade_sharing(root, lab, limits=limits, **options)
    rows, outcomes = run.grades, run.outcomes
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




@dataclass
class GradedClass:
    lab: "Lab"
    root: Path
    scores: dict
    outcomes: dict
    report: str


def hostile_submissions(lab: "Lab", course_root: Path) -> dict:
    """{student: (file name, text)} of every static and structural case (no runaway code)."""
    subs = {name: (f"{lab.id}.ipynb", text) for name, text in UNREADABLE.items()}
    subs["tampering"] = (f"{lab.id}.ipynb", dump(lab.with_last_solution(prefix=tampering(lab)[0])))
    no_last = lab.solved()
    no_last.cells = [c for c in no_last.cells if c.metadata.get("nbgrader", {}).get("grade_id") != lab.solutions[-1]]
    subs["messy"] = messy_but_correct(lab, course_root)
    subs["deleted-solution"] = (f"{lab.id} (1).ipynb", dump(no_last))
    return subs


def grade_hostile_class(lab_id: str, tmp_path: Path) -> GradedClass:
    """The demo class of ``lab_id`` plus every hostile submission, graded in one run."""
    lab = Lab(lab_id)
    root = pipeline.build_demo_class(tmp_path / "class", [lab_id])
    for student, (name, text) in hostile_submissions(lab, root).items():
        folder = root / "submitted" / student / lab_id
        folder.mkdir(parents=True)
        (folder / name).write_text(text)
    scores, outcomes, report = grade(root, lab_id)
    return GradedClass(lab, root, scores, outcomes, report)
