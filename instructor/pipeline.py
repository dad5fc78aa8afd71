"""The instructor's steps, each a function the CLI (``python -m instructor``) and the tests call.

Every nbgrader step runs the ``nbgrader`` command of this environment in the repository root, so
``nbgrader_config.py`` applies; ``root`` selects the course folder (the repository for a real class,
``build/demo_class`` for the demo, a temporary folder in the tests).
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .notebooks import ROOT, dumps, labs, source_notebook

BUILD = ROOT / "build"
NBGRADER = [sys.executable, "-m", "nbgrader"]


# ---------------------------------------------------------------- executing the solution notebooks
def execute(lab: str, mode: str = "quick", output_dir: Path = BUILD / "executed",
            extra_parameters: dict | None = None) -> float:
    """Run a lab's solution notebook with papermill in ``mode``; returns the wall time in seconds.

    The executed copy (with outputs and plots) is written to ``output_dir/<lab>.ipynb``. Raises
    ``papermill.PapermillExecutionError`` naming the failing cell when a cell errors.
    """
    import papermill

    output_dir.mkdir(parents=True, exist_ok=True)
    parameters = {"MODE": mode, **(extra_parameters or {})}
    start = time.perf_counter()
    papermill.execute_notebook(str(source_notebook(lab)), str(output_dir / f"{lab}.ipynb"),
                               parameters=parameters, cwd=str(source_notebook(lab).parent),
                               kernel_name="python3", progress_bar=False, log_output=False)
    return time.perf_counter() - start


def reference_parameters(lab: str, reference_dir: Path | None) -> dict:
    """Extra parameters for labs that write cross-framework artifacts (they declare REFERENCE_DIR)."""
    nb = nbformat.read(source_notebook(lab), as_version=4)
    declares = any("parameters" in c.metadata.get("tags", []) and "REFERENCE_DIR" in c.source
                   for c in nb.cells)
    return {"REFERENCE_DIR": str(reference_dir)} if declares and reference_dir is not None else {}


# ------------------------------------------------------------------------------------ nbgrader
def tool_env() -> dict:
    """The environment with this interpreter's bin/ first on PATH (nbgrader calls ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def nbgrader(*args: str, root: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args> --CourseDirectory.root=<root>`` from the repository root."""
    cmd = [*NBGRADER, *args, f"--CourseDirectory.root={root}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=tool_env())
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def release(root: Path = ROOT, only: list[str] | None = None) -> list[Path]:
    """``nbgrader generate_assignment`` for every lab of ``root/source``; returns the student notebooks.

    Each release is checked for leaks (solution or hidden-test markers) before it is accepted.
    """
    written = []
    for lab in only or labs(root):
        nbgrader("generate_assignment", lab, "--force", root=root)
        notebook = root / "release" / lab / f"{lab}.ipynb"
        text = notebook.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            if marker in text:
                raise RuntimeError(f"{notebook} still contains {marker!r}: a solution or hidden test leaked")
        written.append(notebook)
    return written


def autograde(lab: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    """Autograde every submission of ``lab``. nbgrader goes on past a failing student and exits 1."""
    return nbgrader("autograde", lab, "--force", root=root, check=False)


def feedback(lab: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    return nbgrader("generate_feedback", lab, "--force", root=root, check=False)


def export(root: Path = ROOT, to: Path | None = None) -> Path:
    """Grades of every student and lab as CSV (nbgrader's export format)."""
    to = to or root / "grades.csv"
    nbgrader("export", f"--to={to}", root=root)
    return to


def collect(downloads: Path, lab: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    """Copy an LMS download (zips, folders, renamed notebooks) into nbgrader's ``submitted/``.

    Uses nbgrader's ``zip_collect`` with :class:`instructor.collect.LmsCollector`.
    """
    archive = root / "downloaded" / lab / "archive"
    if archive.exists():
        shutil.rmtree(archive)
    shutil.copytree(downloads, archive)
    extracted = root / "downloaded" / lab / "extracted"
    return nbgrader("zip_collect", lab, "--force", "--strict",
                    "--ZipCollectApp.collector_plugin=instructor.collect.LmsCollector",
                    f"--LmsCollector.notebook={lab}.ipynb", f"--LmsCollector.extracted_root={extracted}",
                    root=root)


# ------------------------------------------------------------------------------------ grade table
@dataclass
class Grade:
    student: str
    lab: str
    score: float
    max_score: float


def grades(root: Path = ROOT) -> list[Grade]:
    """Every (student, lab) pair of the gradebook, 0 for a lab a student has no submission of."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for assignment in gb.assignments:
            for student in gb.students:
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                    score = sub.score
                except MissingEntry:
                    score = 0.0
                rows.append(Grade(student.id, assignment.name, score, assignment.max_score))
    return sorted(rows, key=lambda g: (g.student, g.lab))


def grade_table(rows: list[Grade]) -> str:
    """Students as rows, labs as columns, 'score/max'."""
    lab_ids = sorted({g.lab for g in rows})
    students = sorted({g.student for g in rows})
    cell = {(g.student, g.lab): f"{g.score:g}/{g.max_score:g}" for g in rows}
    width = max([len("student")] + [len(s) for s in students]) + 2
    cols = [max(len(lab), 7) + 2 for lab in lab_ids]
    lines = ["student".ljust(width) + "".join(lab.ljust(w) for lab, w in zip(lab_ids, cols))]
    for s in students:
        lines.append(s.ljust(width) + "".join(cell.get((s, lab), "-").ljust(w) for lab, w in zip(lab_ids, cols)))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ demo class
def solution_cell_ids(nb: nbformat.NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")]


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
    total, seen = 0.0, 0
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            seen += 1
            if seen == 2:
                break
        elif meta.get("grade") and seen == 1:
            total += meta.get("points", 0)
    return total


DEMO_STUDENTS = ("demo-solution", "demo-untouched", "demo-partial")


def build_demo_class(root: Path, only: list[str] | None = None) -> Path:
    """A fresh course folder with the labs released and three synthetic students' submissions."""
    if root.exists():
        shutil.rmtree(root)
    (root / "source").mkdir(parents=True)
    chosen = only or labs()
    for lab in chosen:
        shutil.copytree(ROOT / "source" / lab, root / "source" / lab)
    release(root, chosen)
    for lab in chosen:
        source = nbformat.read(root / "source" / lab / f"{lab}.ipynb", as_version=4)
        released = nbformat.read(root / "release" / lab / f"{lab}.ipynb", as_version=4)
        for student, nb in zip(DEMO_STUDENTS, (source, released, partial_submission(source, released))):
            target = root / "submitted" / student / lab / f"{lab}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(dumps(nb))
    return root


@dataclass
class Outcome:
    """What happened to one submission: ``graded`` or ``not graded`` (with the reason)."""
    student: str
    lab: str
    status: str
    detail: str = ""


NOTEBOOK_TIME_LIMIT = 900  # seconds for one student's whole notebook (cells have their own limit)


def last_error_line(text: str) -> str:
    """The final 'SomeError: message' line of nbgrader's log, or its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", ln)]
    return (errors or lines or ["no output"])[-1][:300]


def autograde_student(lab: str, student: str, root: Path, time_limit: float = NOTEBOOK_TIME_LIMIT) -> Outcome:
    """Autograde one submission in its own nbgrader process, stopped after ``time_limit`` seconds."""
    cmd = [*NBGRADER, "autograde", lab, f"--student={student}", "--force", f"--CourseDirectory.root={root}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=time_limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # nbgrader and the kernel it started
        output, _ = proc.communicate()
        return Outcome(student, lab, "not graded", f"notebook time limit of {time_limit:g} s exceeded")
    graded = (root / "autograded" / student / lab / f"{lab}.ipynb").exists()
    if proc.returncode == 0 and graded:
        return Outcome(student, lab, "graded")
    return Outcome(student, lab, "not graded", last_error_line(output))


def placeholder_feedback(outcome: Outcome, root: Path) -> Path:
    """Feedback for a submission nbgrader could not grade: the reason and the score 0."""
    path = root / "feedback" / outcome.student / outcome.lab / f"{outcome.lab}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body><h1>{html.escape(outcome.lab)}: not graded (score 0)</h1>"
                    f"<p>Your submission could not be graded: {html.escape(outcome.detail)}</p>"
                    f"<p>Check that you handed in the notebook file itself and that it runs top to "
                    f"bottom, then ask your instructor.</p></body></html>\n")
    return path


def grade_class(root: Path, only: list[str] | None = None, progress: bool = True) -> tuple[list[Grade], list[Outcome]]:
    """Autograde every submission one by one, write feedback and export grades.

    A submission nbgrader cannot grade (unreadable file, crash, time limit) is never lost: the student
    keeps a gradebook row with 0, gets a feedback page that says why, and the outcome says what happened.
    """
    from tqdm import tqdm

    chosen = only or labs(root)
    pairs = sorted((lab, p.parent.name) for lab in chosen for p in (root / "submitted").glob(f"*/{lab}"))
    outcomes = []
    for lab, student in tqdm(pairs, desc="autograde", unit="submission", disable=not progress):
        outcomes.append(autograde_student(lab, student, root))
    with (root / "grading.log").open("w") as log:
        for lab in chosen:
            proc = feedback(lab, root)
            log.write(f"### generate_feedback {lab} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}\n")
        for outcome in outcomes:
            log.write(f"{outcome.lab} {outcome.student}: {outcome.status} {outcome.detail}\n")
            if outcome.status != "graded":
                placeholder_feedback(outcome, root)
    export(root)
    return grades(root), outcomes


def summary(rows: list[Grade], outcomes: list[Outcome]) -> str:
    """'graded N (zero M), not graded K' plus one line per submission that was not graded."""
    score = {(g.student, g.lab): g.score for g in rows}
    graded = [o for o in outcomes if o.status == "graded"]
    zero = sum(1 for o in graded if score.get((o.student, o.lab), 0) == 0)
    lines = [f"submissions: {len(outcomes)}; graded {len(graded)} (scored 0: {zero}); "
             f"not graded (0 recorded): {len(outcomes) - len(graded)}"]
    lines += [f"  {o.lab} {o.student}: NOT GRADED - {o.detail}" for o in outcomes if o.status != "graded"]
    return "\n".join(lines)


def write_summary(rows: list[Grade], path: Path) -> None:
    path.write_text(json.dumps([r.__dict__ for r in rows], indent=1) + "\n")


def read_grades_csv(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))
