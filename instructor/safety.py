"""Static checks of a submission before any of its code runs.

``check_readable`` tells an unreadable file (empty, malformed JSON, not a notebook) from a notebook,
repairing small schema faults on the way.
``find_tampering`` reads the cells a student can edit and lists what in them is unusual for a lab's
answer. Since grades are decided outside the kernel (:mod:`instructor.grading.checks`), nothing here
changes a score: every finding is a note for the instructor's review (``Finding.severe`` only ranks
it). The autograder restores every locked cell, so only solution cells, the parameters cell and
cells the student added are read. What is noted:

* assigning to, deleting or ``setattr``-ing attributes of modules (``torch.testing.assert_close = ...``,
  ``np.testing.assert_allclose = ...``, ``tf.debugging...``) or of the notebook's own test helpers;
* redefining a name that a locked cell defines (a test helper such as ``paired_batchnorms``);
* defining comparison/truth dunders (``__eq__``, ``__bool__``, ``__torch_function__``, ...) that make
  an object pass any equality test;
* interpreter back doors: ``exec``/``eval``/``compile``/``__import__``/``importlib``, ``builtins``,
  ``sys.modules``, ``gc``, ``ctypes``, ``inspect``, ``globals()``/``vars()``;

The report lists each finding with its cell. A finding costs nothing, so a false positive (a student
who really needs ``eval``) is a line to read, never a lost grade; the course's own solutions scan clean.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass

import nbformat
from nbformat.validator import normalize

# ------------------------------------------------------------------ what a lab's student code may use
# Modules a solution may import (and their submodules). Anything else is run, and marked for review.
ALLOWED_MODULES = {"torch", "torchvision", "numpy", "math", "cmath", "tensorflow", "keras", "matplotlib", "sklearn",
                   "scipy", "skimage", "course_utils", "typing", "dataclasses", "functools", "itertools",
                   "collections", "abc", "enum", "copy", "warnings", "time", "random", "statistics", "operator",
                   "string", "re", "numbers", "decimal", "fractions", "contextlib", "textwrap", "pprint", "sys",
                   "os", "pathlib", "json", "tqdm", "__future__", "heapq", "bisect", "types", "logging",
                   "subprocess", "shlex"}  # programs run in the sandbox too, and reach nothing
# Attributes of ``sys`` and ``os`` a solution may use; any other one is an attack (sys.settrace,
# sys.modules, sys._getframe) or autograder detection (os.environ).
ALLOWED_ATTRIBUTES = {"sys": {"stdout", "stderr", "version", "version_info", "float_info", "maxsize", "platform",
                              "float_repr_style", "getrecursionlimit", "byteorder", "exit", "argv"},
                      "os": {"path", "cpu_count", "sep", "linesep", "makedirs", "listdir", "getcwd", "fspath",
                             "environ", "getenv"}}  # determinism flags (CUBLAS_WORKSPACE_CONFIG, TF_DETERMINISTIC_OPS)
# Module state a solution may set (plot style, determinism flags).
ALLOWED_STORES = ("plt.rcParams", "matplotlib.rcParams", "mpl.rcParams", "torch.backends.", "np.random.seed",
                  "os.environ")
# Dunders a class in a solution may define (Dataset-style containers, context managers, arithmetic...).
DEFINABLE_DUNDERS = {"__init__", "__post_init__", "__len__", "__getitem__", "__setitem__", "__delitem__",
                     "__iter__", "__next__", "__contains__", "__repr__", "__str__", "__format__", "__call__",
                     "__enter__", "__exit__", "__hash__", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__",
                     "__rmul__", "__matmul__", "__truediv__", "__neg__", "__pos__", "__reversed__", "__init_subclass__",
                     "__getstate__", "__setstate__", "__reduce__", "__copy__", "__deepcopy__", "__sizeof__"}
# Dunders that make an object pass any comparison or take over a framework call: tampering.
COMPARISON_DUNDERS = {"__eq__", "__ne__", "__bool__", "__lt__", "__le__", "__gt__", "__ge__", "__array__",
                      "__array_ufunc__", "__array_function__", "__torch_function__", "__torch_dispatch__",
                      "__instancecheck__", "__subclasscheck__", "__float__", "__index__", "__abs__", "__tf_tensor__"}
# Dunder attributes a solution may read (``type(self).__name__``, ``super().__init__``...).
READABLE_DUNDERS = {"__init__", "__name__", "__qualname__", "__doc__", "__class__", "__len__", "__getitem__",
                    "__call__", "__repr__", "__str__", "__module__", "__version__", "__file__", "__iter__",
                    "__next__", "__enter__", "__exit__", "__annotations__", "__mro__", "__post_init__"}
# Names that reach the interpreter's or the notebook's machinery: tampering.
BACKDOOR_NAMES = {"exec", "eval", "compile", "__import__", "globals", "vars", "locals", "__builtins__",
                  "breakpoint", "get_ipython", "setattr", "delattr"}
BACKDOOR_MODULES = {"builtins", "importlib", "gc", "ctypes", "inspect", "posix", "signal", "unittest",
                    "pytest", "nbgrader", "sqlite3", "sqlalchemy", "shutil", "IPython", "ipykernel", "atexit",
                    "threading", "_thread", "multiprocessing", "sysconfig", "site", "runpy", "code", "codeop",
                    "marshal", "instructor", "trace", "tracemalloc", "pdb", "bdb", "cffi", "pty"}


@dataclass
class Finding:
    """One thing the scan noticed. ``severe``: only tampering needs it (score 0, not run); otherwise the
    submission is graded as usual and the finding is listed for the instructor to review."""
    cell: str
    line: int
    what: str
    severe: bool = True

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
    # Split on "\n" only: str.splitlines also breaks at U+2028, \x0c, \x1c..., which CPython's tokenizer
    # keeps inside a string literal, so a cell holding one would otherwise fail to parse and go unread.
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def locked_context(source_nb: nbformat.NotebookNode) -> tuple[set[str], set[str], set[str]]:
    """(ids of locked cells, functions/classes the locked cells define and the helper cells' UPPERCASE
    constants, modules the locked cells import)."""
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
            elif isinstance(node, ast.Assign) and node in tree.body and str(meta["grade_id"]).endswith("helpers"):
                # a helper cell's constants (FORBIDDEN_OPS ...) are test code too
                defined |= {t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()}
    return locked, defined, modules


def find_tampering(submission: nbformat.NotebookNode, source_nb: nbformat.NotebookNode) -> list[Finding]:
    """Findings in the submission's student-editable code cells (empty list: nothing to say).

    An allow-list: what a lab's solution can need (ALLOWED_MODULES, ALLOWED_ATTRIBUTES,
    DEFINABLE_DUNDERS, READABLE_DUNDERS) passes; what only tampering needs is ``severe`` (writing to
    a module or a test helper, comparison dunders, interpreter back doors, autograder detection);
    anything else unknown (another module, another dunder, ``getattr`` with a computed name) is
    reported for review like everything else here.
    """
    locked, helpers, modules = locked_context(source_nb)
    # Names the exercises ask students to define are theirs to define.
    allowed = set()
    for cell in source_nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and (tree := _parse(cell.source)):
            allowed |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    helpers -= allowed
    trees = _student_trees(submission, locked)
    modules |= _bound_modules(trees) | BASE_MODULE_NAMES
    findings = []
    for label, tree in trees:
        top_level = set(map(id, tree.body))
        for node in ast.walk(tree):
            for what, severe in _node_findings(node, modules, helpers, top_level):
                findings.append(Finding(label, getattr(node, "lineno", 0), what, severe))
    return findings


# Names a lab's own cells bind to modules, whatever the submission imports.
BASE_MODULE_NAMES = frozenset({"torch", "nn", "F", "np", "numpy", "tf", "tensorflow", "keras", "os", "sys", "math",
                               "random", "cu", "course_utils", "builtins"})


def _student_trees(submission: nbformat.NotebookNode, locked: set) -> list[tuple[str, ast.AST]]:
    """(label, syntax tree) of every code cell the student can edit (locked cells are restored from the
    gradebook before grading; a syntax error only fails the student's own cell)."""
    trees = []
    for index, cell in enumerate(submission.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade_id") in locked and not meta.get("solution"):
            continue
        tree = _parse(cell.source)
        if tree is not None:
            trees.append((meta.get("grade_id") or f"#{index + 1} (added)", tree))
    return trees


def _bound_modules(trees) -> set[str]:
    """Every name a student cell binds to a module (``import torch.testing as t``)."""
    modules = set()
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules |= {alias.asname or alias.name for alias in node.names if alias.name[:1].islower()}
    return modules


def _node_findings(node, modules: set, helpers: set, top_level: set) -> list[tuple[str, bool]]:
    """(what, severe) for one syntax node."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        return _store_findings(node, modules, helpers, top_level)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return _definition_findings(node, modules, helpers, top_level)
    if isinstance(node, ast.Call):
        return _call_findings(node)
    if isinstance(node, ast.Name):
        return [(f"uses {node.id}", True)] if node.id in BACKDOOR_NAMES else []
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("__") and node.attr.endswith("__") and node.attr not in READABLE_DUNDERS:
            return [(f"uses {ast.unparse(node)[:60]}", True)]
        if isinstance(node.value, ast.Name) and node.value.id in ALLOWED_ATTRIBUTES and \
                node.value.id in modules and node.attr not in ALLOWED_ATTRIBUTES[node.value.id]:
            return [(f"uses {node.value.id}.{node.attr}", node.value.id == "sys")]
        return []
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return _import_findings(node)
    return []


def _store_findings(node, modules: set, helpers: set, top_level: set) -> list[tuple[str, bool]]:
    out = []
    targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
    for t in targets:
        for sub in ast.walk(t):
            root = _root_name(sub)
            if isinstance(sub, (ast.Attribute, ast.Subscript)) and root in modules | helpers and \
                    isinstance(getattr(sub, "ctx", None), (ast.Store, ast.Del)) and \
                    not ast.unparse(sub).startswith(ALLOWED_STORES):
                out.append((f"overwrites {ast.unparse(sub)}", True))
            elif isinstance(sub, ast.Attribute) and sub.attr == "__class__" and isinstance(sub.ctx, ast.Store):
                out.append((f"assigns {ast.unparse(sub)}", True))
        if isinstance(t, ast.Name) and t.id in helpers and id(node) in top_level:
            out.append((f"redefines the notebook's test helper {t.id!r}", True))
    return out


def _definition_findings(node, modules: set, helpers: set, top_level: set) -> list[tuple[str, bool]]:
    out = []
    if node.name in helpers and id(node) in top_level:
        out.append((f"redefines the notebook's test helper {node.name!r}", True))
    if node.name in COMPARISON_DUNDERS:
        out.append((f"defines {node.name}, which can make an object pass any comparison", True))
    elif node.name.startswith("__") and node.name.endswith("__") and node.name not in DEFINABLE_DUNDERS:
        out.append((f"defines {node.name}", False))
    for deco in getattr(node, "decorator_list", []):
        if _root_name(deco) in modules and ast.unparse(deco).startswith(("sys.", "builtins.", "atexit")):
            out.append((f"decorator {ast.unparse(deco)}", True))
    return out


def _call_findings(node: ast.Call) -> list[tuple[str, bool]]:
    name = node.func.id if isinstance(node.func, ast.Name) else ""
    if name == "getattr" and len(node.args) >= 2 and not isinstance(node.args[1], ast.Constant):
        return [(f"getattr with a computed name: {ast.unparse(node)[:60]}", False)]
    if name == "getattr" and len(node.args) >= 2 and isinstance(node.args[1].value, str) and \
            node.args[1].value.startswith("__") and node.args[1].value not in READABLE_DUNDERS:
        return [(f"getattr of {node.args[1].value}", True)]
    if name == "open" and node.args and isinstance(node.args[0], ast.Constant) and \
            str(node.args[0].value).startswith("/proc"):
        return [(f"reads {node.args[0].value}", True)]
    return []


def _import_findings(node) -> list[tuple[str, bool]]:
    if isinstance(node, ast.ImportFrom) and node.level:
        return []
    out = []
    names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module in ALLOWED_ATTRIBUTES:
        for alias in node.names:  # from sys import settrace
            if alias.name not in ALLOWED_ATTRIBUTES[node.module]:
                out.append((f"imports {node.module}.{alias.name}", node.module == "sys"))
    for n in names:
        top = n.split(".")[0]
        if top in BACKDOOR_MODULES:
            out.append((f"imports {n}", True))
        elif top not in ALLOWED_MODULES:
            out.append((f"imports {n} (not a module the labs use)", False))
    return out
