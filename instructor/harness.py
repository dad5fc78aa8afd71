"""Stamping the shared test helpers (``course_utils/testing``) into the notebooks' locked harness cells.

The package is the one source; a notebook gets a copy, so a student reads in the notebook exactly what
a test does, and the grader's probe (``instructor/grading/probes.py``) rewrites the helpers' checks like
any other locked test code. A harness cell is a locked code cell whose ``grade_id`` ends in ``helpers``
and whose second line names what it holds::

    # Shared test helpers from course_utils/testing, stamped by `make tidy`: edit them there, not here.
    # stamp: torch.builtins_blocked torch.assert_matches_builtin common.raises_value_error

``make tidy`` rewrites the rest of the cell: the imports the helpers need, the lab's forbidden built-ins
(``FORBIDDEN_OPS``/``FORBIDDEN_ATTRIBUTES`` from :mod:`course_utils.testing.rules`, when a blocking
helper is stamped) and the definitions, with every helper they call, in the package's order.
``tests/test_course_layout.py`` fails when a notebook is not stamped.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from course_utils.testing import rules

PACKAGE = Path(__file__).resolve().parent.parent / "course_utils" / "testing"
HEADER = "# Shared test helpers from course_utils/testing, stamped by `make tidy`: edit them there, not here."
MARKER = "# stamp: "
BLOCKING = {"builtins_blocked"}


class StampError(ValueError):
    """A harness cell names a helper the package does not define."""


def _module(name: str) -> tuple[str, ast.Module]:
    text = (PACKAGE / f"{name}.py").read_text()
    return text, ast.parse(text)


@lru_cache(maxsize=None)
def _definitions(name: str) -> tuple[dict, list, dict]:
    """module's top-level defs (name -> (order, source)), its imports (source, names bound) and the names
    it imports from sibling modules (name -> module)."""
    text, tree = _module(name)
    defs, imports, siblings = {}, [], {}
    for order, node in enumerate(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defs[node.name] = (order, ast.get_source_segment(text, node, padded=True))
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            siblings.update({alias.asname or alias.name: node.module for alias in node.names})
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", "") != "__future__":
            bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            imports.append((ast.get_source_segment(text, node), bound))
    return defs, imports, siblings


def _used_names(source: str) -> set[str]:
    """Every bare name ``source`` reads or binds (``a.b`` counts as ``a``)."""
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def closure(wanted: list[str], done: frozenset = frozenset()) -> list[tuple[str, str]]:
    """(module, helper) for ``wanted`` ("torch.builtins_blocked", ...) and everything they call, each once,
    leaving out what ``done`` (stamped by an earlier harness cell of the notebook) already defines."""
    seen: list[tuple[str, str]] = []
    todo = []
    for item in wanted:
        module, _, helper = item.partition(".")
        if not (PACKAGE / f"{module}.py").exists() or helper not in _definitions(module)[0]:
            raise StampError(f"course_utils/testing has no helper {item!r} (cell's `{MARKER.strip()}` line)")
        todo.append((module, helper))
    while todo:
        module, helper = todo.pop(0)
        if (module, helper) in seen or (module, helper) in done:
            continue
        seen.append((module, helper))
        defs, _, siblings = _definitions(module)
        for name in sorted(_used_names(defs[helper][1])):
            if name in defs and name != helper:
                todo.append((module, name))
            elif name in siblings:
                todo.append((siblings[name], name))
    return seen


def stamp_source(marker_line: str, lab: str, done: frozenset = frozenset()) -> tuple[str, list]:
    """The whole harness cell for its ``# stamp:`` line, and the (module, helper) pairs it defines."""
    wanted = marker_line[len(MARKER):].split()
    helpers = closure(wanted, done)
    modules = sorted({m for m, _ in helpers}, key=lambda m: (m != "common", m))
    bodies, import_lines = [], []
    for module in modules:
        defs, imports, _ = _definitions(module)
        chosen = sorted((defs[h] for m, h in helpers if m == module), key=lambda d: d[0])
        used = set().union(*(_used_names(src) for _, src in chosen))
        import_lines += [src for src, bound in imports if bound & used and src not in import_lines]
        bodies += [src.strip("\n") for _, src in chosen]
    parts = [HEADER, marker_line.rstrip()]
    import_lines.sort(key=lambda s: (s.startswith("from"), s))
    parts += import_lines
    text = "\n".join(parts) + "\n"
    if BLOCKING & {h for _, h in helpers}:
        ops, attributes = rules.runtime_rules(lab)
        text += ("\n# what this lab's exercises must not call (course_utils/testing/rules.py)\n"
                 f"FORBIDDEN_OPS = {_tuple(ops)}\nFORBIDDEN_ATTRIBUTES = {_tuple(attributes)}\n")
    return text + "\n\n" + "\n\n\n".join(bodies), helpers


def _tuple(items: tuple[str, ...]) -> str:
    """A tuple literal wrapped at 110 characters."""
    if not items:
        return "()"
    lines, line = [], "("
    for item in items:
        piece = f"{item!r}, "
        if len(line) + len(piece) > 110:
            lines.append(line.rstrip())
            line = " " * 17
        line += piece
    lines.append(line.rstrip().rstrip(",") + ("," if len(items) == 1 else "") + ")")
    return "\n".join(lines)


def is_harness(cell) -> bool:
    lines = cell.source.split("\n")
    return cell.cell_type == "code" and len(lines) > 1 and lines[1].startswith(MARKER)


def stamp_cells(nb, lab: str):
    """``nb`` with every harness cell rewritten from the package (in place; returns nb). A helper that an
    earlier harness cell defines is not stamped again."""
    done: set = set()
    for cell in nb.cells:
        if is_harness(cell):
            cell.source, helpers = stamp_source(cell.source.split("\n")[1], lab, frozenset(done))
            done.update(helpers)
    return nb
