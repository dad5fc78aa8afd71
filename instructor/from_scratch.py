"""From-scratch exercises: which built-in each one must not delegate to, and the review note when it does.

The rules are declared once, in ``course_utils/testing/rules.py`` (``FROM_SCRATCH``), which the
notebooks' run-time blocking also reads. ``MUST_NOT_CALL[lab][solution cell]`` lists dotted names (canonical module paths) and prefixes; a
solution cell that reaches one of them, through any import alias (``F.batch_norm``,
``from torch.nn.functional import batch_norm as bn``, ``torch.ops.aten...``, ``keras.ops...``), gets a
note for the instructor: the tests of most labs also block the built-in at run time, but a note names
the delegation even where a test cannot. Every lab is declared (an empty dict: no exercise
reimplements a built-in) there, so a new lab cannot be forgotten (``tests/test_trust.py`` checks it).
"""
from __future__ import annotations

import ast

import nbformat

from course_utils.testing import rules

from .grading.notes import note

# the course's one declaration, also stamped into the notebooks' run-time blocking (make tidy)
MUST_NOT_CALL: dict[str, dict[str, list[str]]] = {lab: rules.must_not_call(lab) for lab in rules.FROM_SCRATCH}


def aliases(trees: list[ast.AST]) -> dict[str, str]:
    """Local name -> canonical dotted name, from every import in ``trees``."""
    names = {"tf": "tensorflow", "np": "numpy"}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        names.setdefault(alias.name.split(".")[0], alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def dotted(node: ast.AST, names: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id], *reversed(parts)])


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse("\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines()))
    except SyntaxError:
        return None


def review_notes(lab: str, submission: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """One note per exercise whose answer reaches a built-in it must reimplement."""
    rules = MUST_NOT_CALL.get(lab, {})
    if not rules:
        return []
    trees = [t for c in source.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("locked")
             and (t := _parse(c.source)) is not None]
    answers = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in submission.cells if c.cell_type == "code"}
    added = [t for c in submission.cells if c.cell_type == "code" and not c.metadata.get("nbgrader")
             and (t := _parse(c.source)) is not None]
    notes = []
    for cell_id, forbidden in rules.items():
        cell = answers.get(cell_id)
        tree = _parse(cell.source) if cell is not None else None
        if tree is None:
            continue
        names = aliases([*trees, *added, tree])
        used = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Attribute, ast.Name)) and (name := dotted(node, names)):
                for rule in forbidden:
                    if name == rule or name.startswith(rule + "."):
                        used.add(rule)
        if used:
            notes.append(note("from-scratch", f"for review: exercise {cell_id} uses {', '.join(sorted(used))}, "
                                               "the built-in it is asked to reimplement"))
    return notes
