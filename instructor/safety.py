"""Static checks of a submission before any of its code runs.

``check_readable`` tells an unreadable file (empty, malformed JSON, not a notebook) from a notebook,
repairing small schema faults on the way.
``find_tampering`` reads the cells a student can edit and lists what in them can fake a test result
or reach for hidden tests. The autograder restores every locked cell, so only student-editable code
can tamper: solution cells, the parameters cell and cells the student added. What is flagged:

* assigning to, deleting or ``setattr``-ing attributes of modules (``torch.testing.assert_close = ...``,
  ``np.testing.assert_allclose = ...``, ``tf.debugging...``) or of the notebook's own test helpers;
* redefining a name that a locked cell defines (a test helper such as ``paired_batchnorms``);
* defining comparison/truth dunders (``__eq__``, ``__bool__``, ``__torch_function__``, ...) that make
  an object pass any equality test;
* interpreter back doors: ``exec``/``eval``/``compile``/``__import__``/``importlib``, ``builtins``,
  ``sys.modules``, ``gc``, ``ctypes``, ``inspect``, ``globals()``/``vars()``;
* reading the grader's state: ``os.environ``/``getenv`` (autograder detection), and strings that name
  the gradebook, ``source``, ``submitted``/``autograded`` folders or nbgrader.

A flagged submission is not executed and earns 0; the report lists each finding with its cell.
False positives are possible by design (a student who really needs ``eval`` is asked to explain);
the course's own solutions are checked to scan clean by the tests.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

import nbformat
from nbformat.validator import normalize

COMPARISON_DUNDERS = {"__eq__", "__ne__", "__bool__", "__len__", "__lt__", "__le__", "__gt__", "__ge__",
                      "__array__", "__array_ufunc__", "__array_function__", "__torch_function__",
                      "__instancecheck__", "__subclasscheck__", "__getattr__", "__getattribute__",
                      "__float__", "__index__", "__abs__"}
BACKDOOR_NAMES = {"exec", "eval", "compile", "__import__", "globals", "vars", "__builtins__", "breakpoint"}
BACKDOOR_MODULES = {"builtins", "importlib", "gc", "ctypes", "inspect", "sys", "subprocess", "posix",
                    "signal", "unittest", "pytest", "nbgrader", "sqlite3", "sqlalchemy", "shutil"}
GRADER_WORDS = re.compile(r"gradebook|nbgrader|NBGRADER|autograde|submitted|[\\/]source\b|^source\b|\.git\b",
                          re.I)


@dataclass
class Finding:
    cell: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"cell {self.cell}, line {self.line}: {self.what}"


def check_readable(text: str) -> tuple[nbformat.NotebookNode | None, str]:
    """``(notebook, "")`` for a gradable notebook, repaired if needed, or ``(None, why not)``.

    Repairs what Jupyter front ends commonly get wrong (cell ids in an nbformat 4.4 file, missing
    ids, metadata that breaks the schema); the caller notes that a repair happened when the
    notebook's JSON changes.
    """
    if not text.strip():
        return None, "unreadable: the file is empty"
    try:
        data = json.loads(text)
    except ValueError as err:
        return None, f"unreadable: not a notebook (invalid JSON: {err.msg} at line {err.lineno})"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or data.get("nbformat") != 4:
        return None, "unreadable: JSON but not a Jupyter notebook (nbformat 4 with a list of cells)"
    try:
        nb = nbformat.reads(text, as_version=4, capture_validation_error={})
        nb.nbformat_minor = max(nb.get("nbformat_minor", 0), 5)
        for index, cell in enumerate(nb.cells):
            cell.setdefault("id", f"cell-{index}")
            cell.setdefault("metadata", {})
        _, nb = normalize(nb, strip_invalid_metadata=True)
        nb = nbformat.from_dict(nb)
        nbformat.validate(nb)
    except Exception as err:  # nbformat raises several types for malformed notebooks
        return None, f"unreadable: not a valid notebook ({type(err).__name__}: {str(err).splitlines()[0][:120]})"
    return nb, ""


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _parse(source: str) -> ast.AST | None:
    # IPython magics and shell escapes are not Python: blank them so line numbers stay right.
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def locked_context(source_nb: nbformat.NotebookNode) -> tuple[set[str], set[str], set[str]]:
    """(ids of locked cells, functions/classes the locked cells define, modules the locked cells import)."""
    locked, defined, modules = set(), set(), set()
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("locked") or meta.get("solution"):
            continue
        locked.add(meta["grade_id"])
        tree = _parse(cell.source) if cell.cell_type == "code" else None
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    name = alias.asname or alias.name.split(".")[0]
                    if isinstance(node, ast.Import) or alias.asname is None and name[:1].islower():
                        modules.add(name)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node in tree.body:
                defined.add(node.name)  # the notebook's test helpers
    return locked, defined, modules


def find_tampering(submission: nbformat.NotebookNode, source_nb: nbformat.NotebookNode) -> list[Finding]:
    """Findings in the submission's student-editable code cells (empty list: nothing suspicious)."""
    locked, helpers, modules = locked_context(source_nb)
    modules |= {"torch", "nn", "F", "np", "numpy", "tf", "tensorflow", "keras", "os", "math", "random",
                "cu", "course_utils"} | BACKDOOR_MODULES
    # Names the exercises ask students to define are theirs to define.
    allowed = set()
    for cell in source_nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and (tree := _parse(cell.source)):
            allowed |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    helpers -= allowed
    findings = []
    for index, cell in enumerate(submission.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade_id") in locked and not meta.get("solution"):
            continue  # locked cells are restored from the gradebook before grading
        label = meta.get("grade_id") or f"#{index + 1} (added)"
        tree = _parse(cell.source)
        if tree is None:
            continue  # a syntax error only fails the student's own cell
        top_level = set(map(id, tree.body))
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            add = lambda what: findings.append(Finding(label, line, what))  # noqa: E731
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                for t in targets:
                    root = _root_name(t)
                    if isinstance(t, (ast.Attribute, ast.Subscript)) and root in modules | helpers:
                        add(f"overwrites {ast.unparse(t)}")
                    elif isinstance(t, ast.Name) and t.id in helpers and id(node) in top_level:
                        add(f"redefines the notebook's test helper {t.id!r}")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name in helpers and id(node) in top_level:
                    add(f"redefines the notebook's test helper {node.name!r}")
                if node.name in COMPARISON_DUNDERS:
                    add(f"defines {node.name}, which can make an object pass any comparison")
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name in ("setattr", "delattr") and node.args and _root_name(node.args[0]) in modules | helpers:
                    add(f"{name} on {ast.unparse(node.args[0])}")
                elif name in ("getenv", "putenv"):
                    add(f"reads the environment ({ast.unparse(func)}): autograder detection")
            elif isinstance(node, ast.Name) and node.id in BACKDOOR_NAMES:
                add(f"uses {node.id}")
            elif isinstance(node, ast.Attribute) and (
                    node.attr in ("environ", "__dict__", "__globals__", "__code__", "__builtins__", "__class__")
                    or node.attr == "modules" and _root_name(node) == "sys"):
                add(f"uses {ast.unparse(node)}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for n in names:
                    if n.split(".")[0] in BACKDOOR_MODULES:
                        add(f"imports {n}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and GRADER_WORDS.search(node.value):
                add(f"refers to grading files or tools ({node.value[:60]!r})")
    return findings
