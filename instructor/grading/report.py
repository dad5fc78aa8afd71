"""Stage 5, report: what the instructor reads after a grading run.

Takes the gradebook and the outcomes; gives the grade table, the summary (counts per outcome, one line
per submission that needs a look, throughput, diagnoses), and next to ``grades.csv``: ``diagnoses.csv``
(one row per exercise that lost points: the mistake its code behaves like, if any) and
``class_report.html`` with, per lab and exercise, the share of students who earned its points and the
mistakes diagnosed with how many students made each, and ``score_histogram.png``.
"""
from __future__ import annotations

import csv
import html
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .diagnose import NOT_ATTEMPTED
from ..course import CourseFolder
from .types import STATUSES, Outcome, Status


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
    with Gradebook(CourseFolder(root).gradebook_url) as gb:
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


def diagnosis_label(d: dict) -> str:
    """A diagnosis in a few words: the mistakes' names, 'no known mistake matched', or why none was made."""
    if d.get("note") == NOT_ATTEMPTED:
        return "not attempted (the stub still raises NotImplementedError)"
    if d.get("note"):
        return f"not diagnosed ({d['note']})"
    return " = ".join(d.get("mistakes") or []) or NO_MATCH


NO_MATCH = "no known mistake matched"


def diagnoses_csv(root: Path, outcomes: list[Outcome]) -> Path:
    """``diagnoses.csv``: student, lab, exercise, diagnosis, hint (the first matching mistake's)."""
    path = root / "diagnoses.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "lab", "exercise", "diagnosis", "hint"])
        for o in sorted(outcomes, key=lambda o: (o.student, o.lab)):
            for d in o.diagnoses:
                writer.writerow([o.student, o.lab, d.get("exercise", ""), diagnosis_label(d),
                                 (d.get("hints") or [""])[0]])
    return path


def mistake_counts(outcomes: list[Outcome], lab: str) -> dict[str, dict[str, tuple[int, str]]]:
    """exercise -> diagnosis label -> (students, hint), for one lab."""
    counts: dict = {}
    for o in outcomes:
        if o.lab != lab:
            continue
        for d in o.diagnoses:
            label = diagnosis_label(d)
            n, hint = counts.setdefault(d.get("exercise", "?"), {}).get(label, (0, (d.get("hints") or [""])[0]))
            counts[d.get("exercise", "?")][label] = (n + 1, hint)
    return counts


def summary(rows: list[Grade], outcomes: list[Outcome], seconds: float | None = None, ran: int | None = None,
            problems: list[str] | None = None) -> str:
    """Counts per outcome (graded, zero, timed out, crashed, unreadable), throughput, diagnoses, and
    one line per submission that needs the instructor's eye. ``problems``: the diagnosis catalogue's."""
    score = {(g.student, g.lab): g.score for g in rows}
    counts = {status: sum(o.status == status for o in outcomes) for status in STATUSES}
    zero = sum(1 for o in outcomes if score.get((o.student, o.lab), 0) == 0)
    lines = [f"submissions: {len(outcomes)}; " + ", ".join(f"{k}: {v}" for k, v in counts.items())
             + f"; scored 0: {zero}"]
    if seconds is not None and ran is not None:
        rate = ran / seconds * 60 if seconds > 0 and ran else 0.0
        lines.append(f"graded {ran} submission(s) in {seconds:.1f} s ({rate:.1f} per minute); "
                     f"{len(outcomes) - ran} already graded from the same files")
    diagnosed = [d for o in outcomes for d in o.diagnoses]
    if diagnosed:
        named = sum(bool(d.get("mistakes")) for d in diagnosed)
        skipped = sum(bool(d.get("note")) for d in diagnosed)
        lines.append(f"diagnosis: {len(diagnosed)} exercise(s) lost points; {named} behave like a known mistake, "
                     f"{len(diagnosed) - named - skipped} like none, {skipped} not diagnosed (not attempted, or "
                     "the checks could not run) (diagnoses.csv, class_report.html)")
    for problem in problems or []:
        lines.append(f"  diagnosis catalogue: {problem}")
    for o in outcomes:
        if o.status != Status.GRADED or o.notes:
            text = "; ".join(filter(None, [o.detail, *o.notes]))
            lines.append(f"  {o.lab} {o.student}: {o.status.upper()} - {text}")
    return "\n".join(lines)


def read_grades_csv(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def exercise_cells(source: nbformat.NotebookNode) -> dict[str, list[tuple[str, float]]]:
    """Solution cell grade_id -> the (grade cell, points) that follow it, up to the next exercise."""
    from ..lab import LabNotebook

    return {e.solution_id: list(e.grades) for e in LabNotebook(source).exercises.values()}


def exercise_shares(root: Path, lab: str) -> list[tuple[str, float, int, int]]:
    """Per exercise of ``lab``: (name, points, students with full points, students with a submission)."""
    from nbgrader.api import Gradebook, MissingEntry

    source = nbformat.read(CourseFolder(root).source(lab), as_version=4)
    exercises = exercise_cells(source)
    earned = {name: 0 for name in exercises}
    n = 0
    with Gradebook(CourseFolder(root).gradebook_url) as gb:
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


def _mistake_table(counts: dict) -> list[str]:
    parts = ["<h3>Mistakes diagnosed</h3>"]
    if not counts:
        return parts + ["<p>No exercise lost points, or none could be diagnosed.</p>"]
    parts.append("<table border='1' cellpadding='4'><tr><th>exercise</th><th>the code behaves like</th>"
                 "<th>students</th><th>hint they were given</th></tr>")
    for exercise, labels in counts.items():
        for label, (n, hint) in sorted(labels.items(), key=lambda item: (item[0] == NO_MATCH, -item[1][0])):
            parts.append(f"<tr><td>{html.escape(exercise)}</td><td>{html.escape(label)}</td><td>{n}</td>"
                         f"<td>{html.escape(hint)}</td></tr>")
    return parts + ["</table>"]


def class_report(root: Path, chosen: list[str], rows: list[Grade], outcomes: list[Outcome] = ()) -> Path:
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
        parts += _mistake_table(mistake_counts(list(outcomes), lab))
    fig.tight_layout()
    fig.savefig(root / "score_histogram.png", dpi=100)
    plt.close(fig)
    parts.append("</body></html>")
    out = root / "class_report.html"
    out.write_text("\n".join(parts) + "\n")
    return out
