"""Stage 2, scan: a static look at every cell the student can edit, before any of it runs.

Takes the intake's notebook and the lab's source notebook; gives the findings of
:func:`instructor.safety.find_tampering` and the notes about deleted answers. Every finding is a
note for the instructor's review: no score depends on it, because scores are decided outside the
kernel from the probe's data (:mod:`instructor.grading.checks`), which no pattern in the student's
code can change. The from-scratch review (:mod:`instructor.from_scratch`) is also reported here.
"""
from __future__ import annotations

import nbformat

from .intake import deleted_answers


def scan(nb: nbformat.NotebookNode, source: nbformat.NotebookNode, lab: str = "") -> tuple[list, list[str]]:
    """(findings, notes): the notes name deleted answers and from-scratch exercises that delegate to the
    built-in they reimplement (:mod:`instructor.from_scratch`)."""
    from ..from_scratch import review_notes
    from ..safety import find_tampering

    return find_tampering(nb, source), deleted_answers(nb, source) + review_notes(lab, nb, source)
