"""Stage 1, intake: find the submission, check it is a notebook, repair what would crash nbgrader.

Takes a course folder, a lab and a student; gives an :class:`Intake`: the notebook to grade (or None
with the reason it is unreadable) and notes on what was renamed or repaired. The file as handed in is
kept in ``quarantine/`` before anything rewrites it. Nothing here runs student code.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..course import CourseFolder
from ..notebooks import dumps
from .notes import note


@dataclass
class Intake:
    path: Path | None
    nb: nbformat.NotebookNode | None
    notes: list = field(default_factory=list)
    unreadable: str = ""


def grade_id_of(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solution_cell_ids(nb: nbformat.NotebookNode) -> list[str]:
    from ..lab import LabNotebook

    return LabNotebook(nb).solution_ids


def find_submitted_notebook(folder: Path, lab: str) -> tuple[Path | None, str]:
    """The lab notebook in a student's folder, renaming a lone 'Copy of …'/'… (1)' to the canonical name."""
    canonical = folder / f"{lab}.ipynb"
    if canonical.exists():
        return canonical, ""
    candidates = sorted(folder.glob("*.ipynb"))
    if len(candidates) == 1:
        candidates[0].rename(canonical)
        return canonical, note("renamed", f"renamed {candidates[0].name!r} to {canonical.name!r}")
    return None, note("no-notebook", f"no notebook {canonical.name!r} in the submission"
                      + (f" (found {[c.name for c in candidates]})" if candidates else ""))


def quarantine(root: Path, student: str, lab: str) -> Path:
    """Keep the submission as handed in (once) under quarantine/ before the grader changes it."""
    folder = CourseFolder(root)
    path, original = folder.submitted(student, lab), folder.quarantine(student, lab)
    original.parent.mkdir(parents=True, exist_ok=True)
    if not original.exists():
        shutil.copy2(path, original)
    return path


def repair_structure(nb: nbformat.NotebookNode, released: nbformat.NotebookNode) -> list[str]:
    """Undo what breaks nbgrader before it sees the notebook; returns notes on what was repaired.

    * duplicated cells: the last copy counts (see below);
    * nbgrader metadata without a ``grade_id`` (pasted or edited cells) is dropped: nbgrader would
      stop with ``KeyError: 'grade_id'``;
    * a cell of the release whose type the student changed gets its type back (nbgrader fails on a
      raw cell and only handles code/markdown);
    * every locked cell of the release that the submission lacks is put back after its predecessor.
      nbgrader's ``add_missing_cells`` only re-inserts graded cells and crashes (KeyError) when the
      cell before a deleted test is a locked helper cell rather than a solution or test cell.
    """
    locked = {grade_id_of(c) for c in released.cells if c.metadata.get("nbgrader", {}).get("locked")}
    doubled = _drop_duplicates(nb, locked)
    dropped, retyped = _fix_metadata_and_types(nb, {grade_id_of(c): c.cell_type for c in released.cells
                                                    if grade_id_of(c)})
    restored = _restore_deleted_locked(nb, released)
    notes = []
    if doubled:
        notes.append(note("duplicated-cells", f"duplicated cells (the last copy counts): {', '.join(sorted(set(doubled)))}"))
    if restored:
        notes.append(note("locked-restored", f"restored deleted locked cells: {', '.join(restored)}"))
    if retyped:
        notes.append(note("type-restored", f"cell type changed back: {', '.join(retyped)}"))
    if dropped:
        notes.append(note("metadata-dropped", f"ignored nbgrader metadata without grade_id on {dropped} cell(s)"))
    return notes


def _drop_duplicates(nb: nbformat.NotebookNode, locked: set) -> list[str]:
    """The last copy of a cell counts. Earlier copies of a locked cell go (the gradebook's version runs);
    earlier copies of an answer stay as plain student code. (nbgrader's DeduplicateIds leaves them with
    empty nbgrader metadata, which its add_missing_cells then trips over.) Gives the doubled ids."""
    seen, doubled, kept = set(), [], []
    for cell in reversed(nb.cells):
        grade_id = grade_id_of(cell)
        if grade_id and grade_id in seen:
            doubled.append(grade_id)
            if grade_id in locked:
                continue
            del cell.metadata["nbgrader"]
        seen.add(grade_id)
        kept.append(cell)
    nb.cells = kept[::-1]
    return doubled


def _fix_metadata_and_types(nb: nbformat.NotebookNode, kinds: dict) -> tuple[int, list[str]]:
    """nbgrader metadata without a grade_id dropped; each release cell's type put back. Gives (how many
    cells lost their metadata, the ids whose type was changed back)."""
    dropped, retyped = 0, []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is not None and not meta.get("grade_id"):
            del cell.metadata["nbgrader"]
            dropped += 1
        wanted = kinds.get(grade_id_of(cell))
        if wanted and cell.cell_type != wanted:
            retyped.append(grade_id_of(cell))
            cell.cell_type = wanted
            if wanted == "code":
                cell.outputs, cell.execution_count = [], None
            else:
                cell.pop("outputs", None), cell.pop("execution_count", None)
    return dropped, retyped


def _restore_deleted_locked(nb: nbformat.NotebookNode, released: nbformat.NotebookNode) -> list[str]:
    """Every locked cell of the release that the submission lacks, put back after its predecessor."""
    present = {grade_id_of(c) for c in nb.cells}
    order = [grade_id_of(c) for c in released.cells]
    restored = []
    for index, cell in enumerate(released.cells):
        grade_id = grade_id_of(cell)
        if grade_id is None or grade_id in present or not cell.metadata["nbgrader"].get("locked"):
            continue
        earlier = set(order[:index])
        position = max((j + 1 for j, c in enumerate(nb.cells) if grade_id_of(c) in earlier), default=0)
        copy = nbformat.from_dict(cell)
        copy["id"] = f"restored-{grade_id.replace('_', '-')}"
        nb.cells.insert(position, copy)
        present.add(grade_id)
        restored.append(grade_id)
    return restored


def _without_hidden_tests(source: str) -> str:
    """A grade cell's text without its ``### BEGIN/END HIDDEN TESTS`` block (as nbgrader releases it)."""
    import re

    return re.sub(r"\n?[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*", "", source, flags=re.S).rstrip()


def restore_locked(nb: nbformat.NotebookNode, released: nbformat.NotebookNode) -> list[str]:
    """Every locked cell as released: its source (the grade cells with their *visible* tests only), type
    and nbgrader metadata; the student's tags on it go. nbgrader's ``OverwriteCells`` did this when
    nbgrader executed submissions; the grader now executes them itself. Returns a note when a locked
    cell had been edited."""
    locked = {grade_id_of(c): c for c in released.cells if c.metadata.get("nbgrader", {}).get("locked")}
    edited = []
    for cell in nb.cells:
        original = locked.get(grade_id_of(cell))
        if original is None:
            continue
        if _without_hidden_tests(cell.source) != _without_hidden_tests(original.source):
            edited.append(grade_id_of(cell))
        cell.source, cell.metadata = original.source, nbformat.from_dict(original.metadata)
    return [note("locked-edited", f"edited locked cells restored to the release: {', '.join(edited)}")] if edited else []


def deleted_answers(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """Answers the student deleted (their tests will fail)."""
    present = {grade_id_of(c) for c in nb.cells}
    absent = [g for g in solution_cell_ids(source) if g not in present]
    return [note("answer-deleted", f"solution cells deleted (their tests fail): {', '.join(absent)}")] if absent else []


def intake(root: Path, lab: str, student: str, released: nbformat.NotebookNode) -> Intake:
    """Find, read and repair one submission against the lab's student version ``released``."""
    from ..safety import check_readable

    notes = []
    path, why = find_submitted_notebook(CourseFolder(root).submitted(student, lab).parent, lab)
    if why:
        notes.append(why)
    if path is None:
        return Intake(None, None, [], why)
    text = path.read_text(errors="replace")
    nb, unreadable = check_readable(text)
    if nb is None:
        return Intake(path, None, notes, unreadable)
    repaired = json.loads(dumps(nb)) != json.loads(text)
    if repaired:
        notes.append(note("format-repaired", "notebook format repaired (ids, schema)"))
    repairs = repair_structure(nb, released)
    notes += repairs + restore_locked(nb, released)
    if repaired or repairs:
        quarantine(root, student, lab)
        path.write_text(dumps(nb))
    return Intake(path, nb, notes)
