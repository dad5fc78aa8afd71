"""Stage 4, record: the single writer of the course folder.

Takes outcomes and task results; writes the course's one gradebook (never two writers at once, so
SQLite is never written concurrently), ``autograded/``, placeholder feedback for submissions that did
not run, and ``grading-state.json`` — what was graded from which file, so that a run that was killed
and started again grades only what is missing or changed. Also makes sure, before anything is graded,
that the gradebook knows the lab (a fresh clone has no gradebook): an instructor-side fault stops the
run once with a :class:`~instructor.grading.types.CourseError`.
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from ..notebooks import labs
from .run import nbgrader
from .types import CourseError, Outcome, TaskResult

STATE = "grading-state.json"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


CACHE = ".grading-cache"


def ensure_assignment(root: Path, lab: str) -> str:
    """Register ``lab`` (its source cells, hidden tests included) in ``root``'s gradebook; returns the
    student version of the lab (notebook text) that intake repairs submissions against.

    ``release/`` is not touched: the student version is generated into a temporary folder and cached in
    ``.grading-cache/`` under the source's digest, so a run that resumes registers nothing.
    """
    notebook = root / "source" / lab / f"{lab}.ipynb"
    if not notebook.exists():
        known = ", ".join(labs(root)) or "none"
        raise CourseError(f"unknown lab {lab!r}: there is no source/{lab}/{lab}.ipynb in {root} "
                          f"(labs there: {known}). Check the LAB= / --labs argument.")
    cache = root / CACHE / f"{lab}-{digest(notebook)[:16]}"
    if (cache / "release.ipynb").exists() and (root / "gradebook.db").exists():
        return (cache / "release.ipynb").read_text()
    with tempfile.TemporaryDirectory(prefix="course-register-") as tmp:
        proc = nbgrader("generate_assignment", lab, "--force", f"--CourseDirectory.release_directory={tmp}/release",
                        root=root, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
            raise CourseError(
                f"nbgrader cannot register {lab} from source/{lab}/{lab}.ipynb in {root / 'gradebook.db'}:\n{tail}\n"
                "If source/ was edited after grading began (\"Cannot add or remove cells\"), grade with the "
                "source the class was released from, or start a new gradebook for the new version.")
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(tmp) / "release" / lab / f"{lab}.ipynb", cache / "release.ipynb")
    return (cache / "release.ipynb").read_text()


def record_zero(root: Path, student: str, lab: str) -> None:
    """Give a submission that will not run a gradebook row with 0 (and drop an older autograde)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(lab, student)
        except MissingEntry:
            pass
    shutil.rmtree(root / "autograded" / student / lab, ignore_errors=True)


def record_result(root: Path, result: TaskResult) -> None:
    """Merge a worker's result into the course gradebook and ``autograded/``."""
    from nbgrader.api import Gradebook, MissingEntry

    if result.autograded is None:
        record_zero(root, result.student, result.lab)
        return
    target = root / "autograded" / result.student / result.lab / f"{result.lab}.ipynb"
    shutil.rmtree(target.parent, ignore_errors=True)
    target.parent.mkdir(parents=True)
    target.write_text(result.autograded)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy's warnings about nbgrader's own relationships
        gb.update_or_create_student(result.student)
        try:
            gb.remove_submission(result.lab, result.student)
        except MissingEntry:
            pass
        gb.add_submission(result.lab, result.student)
        nb = gb.find_submission_notebook(result.lab, result.lab, result.student)
        for grade in nb.grades:
            score, manual = result.scores.get(grade.name, (0.0, False))
            grade.auto_score, grade.needs_manual_grade = score, manual
        for comment in nb.comments:
            comment.auto_comment = result.comments.get(comment.name)
        gb.db.commit()


def load_state(root: Path) -> dict:
    path = root / STATE
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        return {}  # a state file cut off by a kill: grade everything again


def save_state(root: Path, state: dict) -> None:
    """Atomically (write, then rename), so a kill never leaves half a file."""
    tmp = root / f".{STATE}.tmp"
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, root / STATE)


def remember(state: dict, root: Path, outcome: Outcome, source_digest: str) -> None:
    from .intake import submission_path

    state[f"{outcome.lab}/{outcome.student}"] = {
        "submission": digest(submission_path(root, outcome.student, outcome.lab)), "source": source_digest,
        "status": outcome.status, "detail": outcome.detail, "notes": list(outcome.notes),
        "diagnoses": list(outcome.diagnoses)}
    save_state(root, state)


def already_graded(state: dict, root: Path, lab: str, student: str, source_digest: str) -> Outcome | None:
    """The recorded outcome when this exact file was graded against this exact source, else None."""
    from .intake import submission_path

    entry = state.get(f"{lab}/{student}")
    path = submission_path(root, student, lab)
    if not entry or entry.get("source") != source_digest or entry.get("submission") != digest(path):
        return None
    if entry["status"] in ("graded", "timed out", "crashed") and entry.get("detail") == "" and \
            not (root / "autograded" / student / lab / f"{lab}.ipynb").exists():
        return None  # recorded as run, but its autograded notebook is gone: run it again
    return Outcome(student, lab, entry["status"], entry.get("detail", ""), tuple(entry.get("notes", [])),
                   tuple(d for d in entry.get("diagnoses", []) if isinstance(d, dict)))


def placeholder_feedback(outcome: Outcome, root: Path) -> Path:
    """Feedback for a submission that was not executed: the reason and the score 0."""
    path = root / "feedback" / outcome.student / outcome.lab / f"{outcome.lab}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    advice = {"unreadable": "Hand in the .ipynb file itself, saved from Jupyter or Colab.",
              }.get(outcome.status, "Check that your notebook runs top to bottom, then ask your instructor.")
    path.write_text(f"<html><body><h1>{html.escape(outcome.lab)}: {html.escape(outcome.status)} (score 0)</h1>"
                    f"<p>{html.escape(outcome.detail)}</p><p>{html.escape(advice)}</p></body></html>\n")
    return path


def feedback(lab: str, root: Path):
    return nbgrader("generate_feedback", lab, "--force", root=root, check=False)


def export(root: Path, to: Path | None = None) -> Path:
    """Grades of every student and lab as CSV (nbgrader's export format)."""
    to = to or root / "grades.csv"
    nbgrader("export", f"--to={to}", root=root)
    return to
