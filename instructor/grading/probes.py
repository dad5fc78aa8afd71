"""The lab's graded checks as a probe (runs in the kernel, reports data) and a table of sites (stays here).

:func:`build` reads a lab's *source* notebook and rewrites its test cells (the grade cells, hidden tests
included, and the locked ``*helpers`` cells they call) so that they judge nothing:

* ``assert <expr>, msg`` becomes ``__course__.check(site, lambda: leaf, ...)``: the recorder sends the
  values of the expression's leaves (comparison operands, the arguments of ``isinstance``,
  ``torch.equal``, ``np.allclose`` ...), and the grader re-evaluates the expression itself on them;
* ``torch.testing.assert_close(a, b, ...)``, ``np.testing.assert_allclose(...)`` and
  ``np.testing.assert_array_equal(...)`` become ``__course__.close(site, lambda: a, lambda: b, ...)``:
  the grader compares the student's ``a`` with ``b`` *as computed by the instructor's solution in a
  clean kernel* on the same inputs, at the call's tolerances;
* every seed the tests set (``manual_seed``, ``default_rng``, ``set_random_seed``, ``seed=`` ...) is
  shifted by an offset the grader chooses per submission, so values copied from a visible test's
  output are wrong, and every global generator is reseeded before each test cell.

The probe runs each grade cell as a function (its variables are fast locals that code elsewhere cannot
rebind) in a *copy* of the student's namespace with fresh helper definitions, so rebinding a name in
the notebook after the fact changes nothing the probe uses. The hidden tests exist only in the probe
cell's source while it runs; its outputs never reach a notebook, feedback or a file.
"""
from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

CLOSE_CALLS = {"torch.testing.assert_close": "torch", "torch.testing.assert_allclose": "torch",
               "np.testing.assert_allclose": "numpy", "numpy.testing.assert_allclose": "numpy",
               "np.testing.assert_array_equal": "equal", "numpy.testing.assert_array_equal": "equal",
               "np.testing.assert_equal": "equal", "numpy.testing.assert_equal": "equal"}
# positional parameters after (actual, expected), as the functions declare them
CLOSE_POSITIONAL = {"torch": [], "numpy": ["rtol", "atol", "equal_nan"], "equal": []}
CLOSE_KEYWORDS = {"rtol", "atol", "equal_nan", "check_dtype"}
PREDICATES = {"isinstance", "issubclass", "torch.equal", "np.array_equal", "numpy.array_equal", "torch.allclose",
              "np.allclose", "numpy.allclose", "math.isclose"}
SEEDERS = {"manual_seed", "default_rng", "seed", "set_seed", "set_random_seed", "RandomState", "SeedGenerator",
           "PRNGKey", "seed_everything"}
OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "is",
       ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
# part of every cached reference's key: bump it when what the sandbox kernel computes changes without the
# probe changing (2: the kernel runs with NBGRADER_EXECUTION, so the labs take their quick branch)
CACHE_VERSION = 2
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


@dataclass
class Site:
    """One assertion or comparison in a test cell, as the grader knows it (never sent to the kernel)."""
    cell: str      # grade_id of the cell the code is in (a helper's site reports under the calling test)
    line: int      # line in that cell
    kind: str      # "assert", or the comparison: "torch" | "numpy" | "equal"
    tree: object   # assert: the expression's structure over leaf indices (see :func:`shape`)
    hidden: bool   # inside ### BEGIN/END HIDDEN TESTS
    text: str      # the source line, shown in feedback only when not hidden


@dataclass
class Probe:
    """A lab's probe: the cells to append to a submission, and what the grader needs to judge them.

    ``phases`` has one entry per exercise that has grade cells: the cells the probe runs for it, as
    ``(kind, grade_id, source)`` with kind "solution" (the instructor's answer to an *earlier* exercise,
    so that an exercise is judged on its own and a mistake in one never costs points in the next),
    "helper" or "grade". Each phase is its own notebook cell, run in order, so a phase's text never
    holds the answer to an exercise judged in it or after it.
    """
    lab: str
    phases: list           # [[(kind, grade_id, transformed source)]] per exercise, as a student's run has them
    reference_phases: list  # the same for the solution's run (comparisons keep their expected side)
    sites: dict            # site number -> Site
    points: dict           # grade_id -> points
    digest: str = ""
    order: list = field(default_factory=list)  # grade ids in notebook order
    exercises: list = field(default_factory=list)  # per phase: the grade_id of the solution cell it judges

    def phase_grades(self, phase: int) -> list[str]:
        """The grade cells that phase ``phase`` judges, in notebook order."""
        return [grade_id for kind, grade_id, _ in self.phases[phase] if kind == "grade"]

    def cell_sources(self, offsets: list[int], nonce: str, reference: bool = False) -> list[str]:
        """The probe cells, one per phase: the recorder, the phase's cells once per offset, one publish.
        ``reference``: the solution's run (it alone evaluates the expected side of comparisons)."""
        recorder = (Path(__file__).with_name("recorder.py")).read_text()
        return [PHASE_TEMPLATE.format(recorder=recorder, nonce=nonce, offsets=offsets, program=json.dumps(cells),
                                      reference=reference)
                for cells in (self.reference_phases if reference else self.phases)]


PHASE_TEMPLATE = """# The autograder's checks (added for grading only; never part of the notebook).
def __course_probe__(program):
    __course_ns__ = {{'__name__': '__course_recorder__'}}
    exec(compile({recorder!r}, '<course recorder>', 'exec'), __course_ns__)
    recorder = __course_ns__['Recorder']({nonce!r}, {reference!r})
    recorder.audit_builtins()
    cells = __import__('json').loads(program)
    user = dict(get_ipython().user_ns)
    for offset in {offsets!r}:
        recorder.start(offset)
        ns = dict(user)
        ns['__course__'], ns['__course_offset__'] = recorder, offset
        for index, (kind, grade_id, source) in enumerate(cells):
            recorder.reseed(offset * 1000 + index)
            if kind == 'grade':
                recorder.begin(grade_id)
            try:
                exec(compile(source, f'<{{kind}} {{grade_id}}>', 'exec'), ns)
                if kind == 'grade':
                    ns.update(ns.pop('__course_cell__')())
            except Exception as err:
                recorder.error(err)
            finally:
                recorder.cell = None
    recorder.publish()
__course_probe__({program!r})
del __course_probe__
"""


def _dotted(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every expression node
        return ""


def _hidden_lines(source: str) -> set[int]:
    hidden, inside = set(), False
    for number, line in enumerate(source.split("\n"), start=1):
        if HIDDEN_BEGIN in line:
            inside = True
        elif HIDDEN_END in line:
            inside = False
        elif inside:
            hidden.add(number)
    return hidden


def shape(node: ast.expr, leaves: list) -> object:
    """The structure the grader re-evaluates: ("and"|"or", [...]), ("not", t), ("cmp", [leaf...], [op...]),
    ("pred", name, [leaf...], {kw: leaf}) or ("leaf", i); ``leaves`` collects the leaf expressions."""
    def leaf(expr):
        leaves.append(expr)
        return len(leaves) - 1

    if isinstance(node, ast.BoolOp):
        return ("and" if isinstance(node.op, ast.And) else "or", [shape(v, leaves) for v in node.values])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ("not", shape(node.operand, leaves))
    if isinstance(node, ast.Compare) and all(type(op) in OPS for op in node.ops):
        return ("cmp", [leaf(node.left), *[leaf(c) for c in node.comparators]], [OPS[type(op)] for op in node.ops])
    if isinstance(node, ast.Call) and _dotted(node.func) in PREDICATES and not any(
            isinstance(a, ast.Starred) for a in node.args) and all(k.arg for k in node.keywords):
        return ("pred", _dotted(node.func), [leaf(a) for a in node.args], {k.arg: leaf(k.value) for k in node.keywords})
    return ("leaf", leaf(node))


def _thunk(expr: ast.expr) -> ast.Lambda:
    return ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
                      body=expr)


def _recorder_call(method: str, args: list, keywords: list | None = None) -> ast.Call:
    return ast.Call(func=ast.Attribute(value=ast.Name("__course__", ast.Load()), attr=method, ctx=ast.Load()),
                    args=args, keywords=keywords or [])


class _Rewrite(ast.NodeTransformer):
    def __init__(self, cell: str, source: str, sites: dict, reference: bool):
        self.cell, self.sites, self.hidden, self.reference = cell, sites, _hidden_lines(source), reference
        self.lines = source.split("\n")

    def _site(self, node, kind, tree=None) -> int:
        number = len(self.sites) + 1
        text = self.lines[node.lineno - 1].strip() if node.lineno <= len(self.lines) else ""
        self.sites[number] = Site(self.cell, node.lineno, kind, tree, node.lineno in self.hidden, text[:200])
        return number

    def visit_Assert(self, node: ast.Assert):
        leaves: list = []
        tree = shape(node.test, leaves)
        leaves = [self.visit(leaf) for leaf in leaves]
        site = self._site(node, "assert", tree)
        call = _recorder_call("check", [ast.Constant(site), *[_thunk(leaf) for leaf in leaves]])
        return ast.copy_location(ast.Expr(call), node)

    def visit_Call(self, node: ast.Call):
        node = self.generic_visit(node)
        name = _dotted(node.func)
        if name in CLOSE_CALLS and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args):
            kind = CLOSE_CALLS[name]
            site = ast.Constant(self._site(node, kind))
            if not self.reference:  # a student's run never holds the expected side, not even as code
                return ast.copy_location(_recorder_call("close", [site, _thunk(node.args[0]), ast.Constant(None)]), node)
            keywords = [ast.keyword(k.arg, _thunk(k.value)) for k in node.keywords if k.arg in CLOSE_KEYWORDS]
            keywords += [ast.keyword(p, _thunk(a)) for p, a in zip(CLOSE_POSITIONAL[kind], node.args[2:])]
            return ast.copy_location(_recorder_call("close", [site, _thunk(node.args[0]), _thunk(node.args[1])],
                                                    keywords), node)
        last = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if last in SEEDERS and node.args:
            node.args[0] = _recorder_call("offset", [node.args[0]])
        for keyword in node.keywords:
            if keyword.arg == "seed":
                keyword.value = _recorder_call("offset", [keyword.value])
        return node


def _assigned_names(body: list) -> list[str]:
    """Names a cell assigns at its own level (not inside nested functions, classes or lambdas)."""
    names: list[str] = []

    class Collect(ast.NodeVisitor):
        def visit_Name(self, node):
            if isinstance(node.ctx, (ast.Store, ast.Del)) and node.id not in names:
                names.append(node.id)

        def visit_FunctionDef(self, node):
            names.append(node.name) if node.name not in names else None

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_ClassDef(self, node):
            names.append(node.name) if node.name not in names else None

        def visit_Lambda(self, node):
            pass

        def visit_Import(self, node):
            for alias in node.names:
                name = (alias.asname or alias.name).split(".")[0]
                names.append(name) if name not in names else None

        visit_ImportFrom = visit_Import

    for statement in body:
        Collect().visit(statement)
    return names


def _as_function(tree: ast.Module) -> ast.Module:
    """``def __course_cell__(): <cell>; return locals()``; a name the cell assigns starts from its value in
    the namespace when it has one (as a top-level cell would read it)."""
    prologue = [ast.parse(f"if {name!r} in globals(): {name} = globals()[{name!r}]").body[0]
                for name in _assigned_names(tree.body)]
    module = ast.parse("def __course_cell__():\n    return dict(locals())")
    module.body[0].body[:0] = prologue + tree.body
    return module


def runnable(source: str) -> str:
    """The cell with IPython's magics and shell lines blanked (they are not Python)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def test_cells(source_nb: nbformat.NotebookNode) -> list[tuple[str, str, str, float]]:
    """(kind, grade_id, source, points) of the cells a probe uses, in notebook order up to the last grade
    cell: "solution" cells, "grade" cells and the locked ``*helpers`` cells (the definitions tests call)."""
    cells = source_nb.cells
    grades = [i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade")]
    out = []
    for cell in cells[:grades[-1] + 1] if grades else []:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        if meta.get("grade"):
            out.append(("grade", meta["grade_id"], cell.source, float(meta.get("points") or 0)))
        elif meta.get("solution"):
            out.append(("solution", meta["grade_id"], cell.source, 0.0))
        elif meta.get("locked") and str(meta.get("grade_id", "")).endswith("helpers"):
            out.append(("helper", meta["grade_id"], cell.source, 0.0))
    return out


def _phases(source_nb: nbformat.NotebookNode, reference: bool) -> tuple[list, dict, dict, list]:
    sites: dict = {}
    transformed, points, order = [], {}, []
    for kind, grade_id, source, pts in test_cells(source_nb):
        if kind == "solution":
            transformed.append((kind, grade_id, runnable(source)))
            continue
        tree = _Rewrite(grade_id, source, sites, reference).visit(ast.parse(runnable(source)))
        if kind == "grade":
            tree = _as_function(tree)
            points[grade_id] = pts
            order.append(grade_id)
        transformed.append((kind, grade_id, ast.unparse(ast.fix_missing_locations(tree))))
    phases, answers, helpers, current, exercises = [], [], [], [], []
    for kind, grade_id, source in transformed + [("solution", None, "")]:
        if kind == "solution":
            if current:
                phases.append(answers[:-1] + helpers + current)  # this exercise's own answer stays the student's
                exercises.append(answers[-1][1] if answers else None)
            current = []
            if grade_id is not None:
                answers.append((kind, grade_id, source))
        elif kind == "helper":
            helpers.append((kind, grade_id, source))
        else:
            current.append((kind, grade_id, source))
    return phases, sites, points, order, exercises


def build(lab: str, source_nb: nbformat.NotebookNode) -> Probe:
    """The probe of ``lab`` from its source notebook (see the module docstring and :class:`Probe`)."""
    phases, sites, points, order, exercises = _phases(source_nb, reference=False)
    reference_phases = _phases(source_nb, reference=True)[0]
    recorder = Path(__file__).with_name("recorder.py").read_text()
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, phases, reference_phases, recorder, PHASE_TEMPLATE,
                                        nbformat.writes(source_nb)]).encode()).hexdigest()
    return Probe(lab, phases, reference_phases, sites, points, digest, order, exercises)
