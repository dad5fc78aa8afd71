"""What a lab notebook's nbgrader metadata says, read in one place: its exercises and their points.

A lab is a sequence of *exercises*. Exercise *k* is a solution code cell (the student's answer) and the
cells after it up to the next solution cell; its grade cells (locked tests with points) are what it is
worth. Locked cells whose ``grade_id`` ends in ``helpers`` hold the definitions the tests call.

``LabNotebook(nb)`` reads that once; the grading stages (intake, report), the demo class, the mutant
library and the tests ask it instead of walking the metadata themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@dataclass(frozen=True)
class Exercise:
    """One exercise: its solution cell, its grade cells with their points, and where its block lies."""
    solution_id: str
    index: int                              # of the solution cell
    grades: tuple[tuple[str, float], ...]   # (grade_id, points) of the block's grade cells, in order
    last_grade: int                         # index of the block's last grade cell (-1: none)
    end: int                                # where the block ends: the next solution cell, or the end

    @property
    def points(self) -> float:
        return sum(points for _, points in self.grades)


class LabNotebook:
    """The exercises, solution ids, locked cells, helpers and points of one lab notebook (source or release)."""

    def __init__(self, nb: nbformat.NotebookNode):
        self.nb = nb
        cells = nb.cells
        starts = [i for i, c in enumerate(cells) if nbgrader_meta(c).get("solution") and c.cell_type == "code"]
        self.exercises: dict[str, Exercise] = {}
        for n, start in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(cells)
            block = [i for i in range(start + 1, end) if nbgrader_meta(cells[i]).get("grade")]
            grades = tuple((nbgrader_meta(cells[i])["grade_id"], float(nbgrader_meta(cells[i]).get("points") or 0))
                           for i in block)
            sid = nbgrader_meta(cells[start])["grade_id"]
            self.exercises[sid] = Exercise(sid, start, grades, block[-1] if block else -1, end)
        self.solution_ids = list(self.exercises)
        self.locked_ids = {nbgrader_meta(c).get("grade_id") for c in cells if nbgrader_meta(c).get("locked")} - {None}
        self.helper_ids = [nbgrader_meta(c)["grade_id"] for c in cells if nbgrader_meta(c).get("locked")
                           and str(nbgrader_meta(c).get("grade_id", "")).endswith("helpers")]
        self.points = {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c).get("points") or 0)
                       for c in cells if nbgrader_meta(c).get("grade")}

    @classmethod
    def read(cls, path: Path) -> "LabNotebook":
        return cls(nbformat.read(path, as_version=4))

    @property
    def full(self) -> float:
        """The lab's points: every grade cell's."""
        return sum(self.points.values())

    def exercise_of(self, grade_id: str) -> str | None:
        """The solution id of the exercise a grade cell belongs to (None: a grade cell before any answer)."""
        return next((e.solution_id for e in self.exercises.values() if grade_id in dict(e.grades)), None)
