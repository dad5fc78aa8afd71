"""Stage 5, report: what the instructor reads after a grading run.

Takes the gradebook and the outcomes; gives the grade table, the summary (counts per outcome, one line
per submission that needs a look, throughput), and a class report next to ``grades.csv``:
``class_report.html`` with, per lab and exercise, the share of students who earned its points, and
``score_histogram.png``.
"""
from __future__ import annotations

import csv
import html
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .types import STATUSES, Outcome


@dataclass
class Grade:
    student: str
    lab: str
    score: float
    max_score: float


def grades(root: Path) -> list[Grade]:
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


def summary(rows: list[Grade], outcomes: list[Outcome], seconds: float | None = None, ran: int | None = None) -> str:
    """Counts per outcome (graded, zero, timed out, crashed, unreadable), throughput, and
    one line per submission that needs the instructor's eye."""
    score = {(g.student, g.lab): g.score for g in rows}
    counts = {status: sum(o.status == status for o in outcomes) for status in STATUSES}
    zero = sum(1 for o in outcomes if score.get((o.student, o.lab), 0) == 0)
    lines = [f"submissions: {len(outcomes)}; " + ", ".join(f"{k}: {v}" for k, v in counts.items())
             + f"; scored 0: {zero}"]
    if seconds is not None and ran is not None:
        rate = ran / seconds * 60 if seconds > 0 and ran else 0.0
        lines.append(f"graded {ran} submission(s) in {seconds:.1f} s ({rate:.1f} per minute); "
                     f"{len(outcomes) - ran} already graded from the same files")
    for o in outcomes:
        if o.status != "graded" or o.notes:
            text = "; ".join(filter(None, [o.detail, *o.notes]))
            lines.append(f"  {o.lab} {o.student}: {o.status.upper()} - {text}")
    return "\n".join(lines)


def read_grades_csv(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def exercise_cells(source: nbformat.NotebookNode) -> dict[str, list[tuple[str, float]]]:
    """Solution cell grade_id -> the (grade cell, points) that follow it, up to the next exercise."""
    out, current = {}, None
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            current = meta["grade_id"]
            out[current] = []
        elif meta.get("grade") and current is not None:
            out[current].append((meta["grade_id"], float(meta.get("points", 0))))
    return out


def exercise_shares(root: Path, lab: str) -> list[tuple[str, float, int, int]]:
    """Per exercise of ``lab``: (name, points, students with full points, students with a submission)."""
    from nbgrader.api import Gradebook, MissingEntry

    source = nbformat.read(root / "source" / lab / f"{lab}.ipynb", as_version=4)
    exercises = exercise_cells(source)
    earned = {name: 0 for name in exercises}
    n = 0
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in gb.students:
            try:
                nb = gb.find_submission_notebook(lab, lab, student.id)
            except MissingEntry:
                continue
            n += 1
            score = {g.name: g.score for g in nb.grades}
            for name, cells in exercises.items():
                if all(score.get(cell, 0) >= points for cell, points in cells):
                    earned[name] += 1
    return [(name, sum(p for _, p in exercises[name]), earned[name], n) for name in exercises]


def class_report(root: Path, chosen: list[str], rows: list[Grade]) -> Path:
    """``class_report.html`` and ``score_histogram.png`` next to ``grades.csv``; returns the HTML path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(chosen), figsize=(4.5 * len(chosen), 3.2), squeeze=False)
    parts = ["<html><head><meta charset='utf-8'><title>Class report</title></head><body>",
             "<h1>Class report</h1><img src='score_histogram.png' alt='score histogram'>"]
    for ax, lab in zip(axes[0], chosen):
        scores = [g.score for g in rows if g.lab == lab]
        top = max([g.max_score for g in rows if g.lab == lab] or [1.0])
        ax.hist(scores, bins=min(20, max(5, int(top) + 1)), range=(0, top))
        ax.set_title(f"{lab} (n={len(scores)})")
        ax.set_xlabel(f"score out of {top:g}")
        ax.set_ylabel("students")
        parts.append(f"<h2>{html.escape(lab)}</h2><table border='1' cellpadding='4'>"
                     "<tr><th>exercise</th><th>points</th><th>full points</th><th>share</th></tr>")
        for name, points, full, n in exercise_shares(root, lab):
            share = full / n if n else 0.0
            parts.append(f"<tr><td>{html.escape(name)}</td><td>{points:g}</td><td>{full}/{n}</td>"
                         f"<td>{share:.0%}</td></tr>")
        parts.append("</table>")
    fig.tight_layout()
    fig.savefig(root / "score_histogram.png", dpi=100)
    plt.close(fig)
    parts.append("</body></html>")
    out = root / "class_report.html"
    out.write_text("\n".join(parts) + "\n")
    return out
