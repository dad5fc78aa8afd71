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

from ..course import CourseFolder, nbgrader
from ..notebooks import labs
from .notes import from_state
from .types import CourseError, Outcome, Status, TaskResult


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def ensure_assignment(root: Path, lab: str) -> str:
    """Register ``lab`` (its source cells, hidden tests included) in ``root``'s gradebook; returns the
    student version of the lab (notebook text) that intake repairs submissions against.

    ``release/`` is not touched: the student version is generated into a temporary folder and cached in
    ``.grading-cache/`` under the source's digest, so a run that resumes registers nothing.
    """
    folder = CourseFolder(root)
    notebook = folder.source(lab)
    if not notebook.exists():
        known = ", ".join(labs(root)) or "none"
        raise CourseError(f"unknown lab {lab!r}: there is no source/{lab}/{lab}.ipynb in {root} "
                          f"(labs there: {known}). Check the LAB= / --labs argument.")
    cache = folder.cache(lab, digest(notebook))
    if (cache / "release.ipynb").exists() and folder.gradebook.exists():
        return (cache / "release.ipynb").read_text()
    with tempfile.TemporaryDirectory(prefix="course-register-") as tmp:
        proc = nbgrader("generate_assignment", lab, "--force", f"--CourseDirectory.release_directory={tmp}/release",
                        root=root, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
            raise CourseError(
                f"nbgrader cannot register {lab} from source/{lab}/{lab}.ipynb in {folder.gradebook}:\n{tail}\n"
                "If source/ was edited after grading began (\"Cannot add or remove cells\"), grade with the "
                "source the class was released from, or start a new gradebook for the new version.")
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(tmp) / "release" / lab / f"{lab}.ipynb", cache / "release.ipynb")
    return (cache / "release.ipynb").read_text()


def record_zero(root: Path, student: str, lab: str) -> None:
    """Give a submission that will not run a gradebook row with 0 (and drop an older autograde)."""
    from nbgrader.api import Gradebook, MissingEntry

    folder = CourseFolder(root)
    with Gradebook(folder.gradebook_url) as gb:
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(lab, student)
        except MissingEntry:
            pass
    shutil.rmtree(folder.autograded(student, lab).parent, ignore_errors=True)


def record_result(root: Path, result: TaskResult) -> None:
    """Merge a worker's result into the course gradebook and ``autograded/``."""
    from nbgrader.api import Gradebook, MissingEntry

    if result.autograded is None:
        record_zero(root, result.student, result.lab)
        return
    folder = CourseFolder(root)
    target = folder.autograded(result.student, result.lab)
    shutil.rmtree(target.parent, ignore_errors=True)
    target.parent.mkdir(parents=True)
    target.write_text(result.autograded)
    with warnings.catch_warnings(), Gradebook(folder.gradebook_url) as gb:
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
    path = CourseFolder(root).state
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        return {}  # a state file cut off by a kill: grade everything again


def save_state(root: Path, state: dict) -> None:
    """Atomically (write, then rename), so a kill never leaves half a file."""
    store_json(CourseFolder(root).state, state, indent=1, sort_keys=True)


def cached_json(path: Path):
    """A cache file's data, or None when it is missing, a symlink (planted) or cut off by a kill."""
    if not path.is_file() or path.is_symlink():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def store_json(path: Path, data, **dump) -> None:
    """Write ``data`` as JSON atomically (a temporary file beside it, then a rename): a kill leaves the
    old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, **dump))
    os.replace(tmp, path)


def remember(state: dict, root: Path, outcome: Outcome, source_digest: str) -> None:
    state[f"{outcome.lab}/{outcome.student}"] = {
        "submission": digest(CourseFolder(root).submitted(outcome.student, outcome.lab)), "source": source_digest,
        "status": str(outcome.status), "detail": outcome.detail,
        "notes": [[getattr(n, "code", ""), str(n)] for n in outcome.notes],
        "diagnoses": list(outcome.diagnoses)}
    save_state(root, state)


def already_graded(state: dict, root: Path, lab: str, student: str, source_digest: str) -> Outcome | None:
    """The recorded outcome when this exact file was graded against this exact source, else None."""
    folder = CourseFolder(root)
    entry = state.get(f"{lab}/{student}")
    if not entry or entry.get("source") != source_digest or entry.get("submission") != digest(folder.submitted(student, lab)):
        return None
    try:
        status = Status(entry.get("status"))
    except ValueError:
        return None  # a state file from another version of the grader: grade it again
    if status in (Status.GRADED, Status.TIMED_OUT, Status.CRASHED) and entry.get("detail") == "" and \
            not folder.autograded(student, lab).exists():
        return None  # recorded as run, but its autograded notebook is gone: run it again
    if status is Status.PENDING:
        return None
    return Outcome(student, lab, status, entry.get("detail", ""), tuple(map(from_state, entry.get("notes", []))),
                   tuple(d for d in entry.get("diagnoses", []) if isinstance(d, dict)))


def placeholder_feedback(outcome: Outcome, root: Path) -> Path:
    """Feedback for a submission that was not executed: the reason and the score 0."""
    path = CourseFolder(root).feedback(outcome.student, outcome.lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    advice = {Status.UNREADABLE: "Hand in the .ipynb file itself, saved from Jupyter or Colab.",
              }.get(outcome.status, "Check that your notebook runs top to bottom, then ask your instructor.")
    path.write_text(f"<html><body><h1>{html.escape(outcome.lab)}: {html.escape(outcome.status)} (score 0)</h1>"
                    f"<p>{html.escape(outcome.detail)}</p><p>{html.escape(advice)}</p></body></html>\n")
    return path


def feedback(lab: str, root: Path):
    return nbgrader("generate_feedback", lab, "--force", root=root, check=False)


def export(root: Path, to: Path | None = None) -> Path:
    """Grades of every student and lab as CSV (nbgrader's export format)."""
    to = to or CourseFolder(root).grades_csv
    nbgrader("export", f"--to={to}", root=root)
    return to
