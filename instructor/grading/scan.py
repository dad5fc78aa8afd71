"""Stage 2, scan: a static look at every cell the student can edit, before any of it runs.

Takes the intake's notebook and the lab's source notebook; gives the findings of
:func:`instructor.safety.find_tampering` (empty when the submission may run) and the notes about
deleted answers. A submission with findings is scored 0 and never executed.
"""
from __future__ import annotations

import nbformat

from .intake import deleted_answers


def scan(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> tuple[list, list[str]]:
    from ..safety import find_tampering

    return find_tampering(nb, source), deleted_answers(nb, source)
