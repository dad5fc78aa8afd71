"""Grader trust: the sandbox cannot be undone, the guard cannot be fooled, honest code is never flagged.

* The sandbox (bubblewrap) is probed from inside a grading kernel: unmounting, hidden paths by every
  route, the network, other processes, capabilities.
* Attacks that switch tests off at run time (each a class of attack, not one spelling) are graded
  with the static scan bypassed, so that the kernel's guard alone must catch them; each must earn 0.
* A corpus of honest submissions in different styles, graded with every defence on, must earn full
  marks with no tampering finding; one that delegates to the built-in gets a review note instead.
Each class is graded once (one grading run per lab) and every assertion reads from it.
"""
import os
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from classroom import LIMITS, Lab, dump
from instructor import pipeline
from instructor.from_scratch import MUST_NOT_CALL
from instructor.grading import dispatch
from instructor.notebooks import ROOT, labs

BWRAP = shutil.which("bwrap")
GUARD_ONLY = "# guard-only attack\n"


# ----------------------------------------------------------------------------------- the sandbox
def sandbox_probe(code: str, hide: list[str]) -> str:
    """Run ``code`` in the grading sandbox kernel (no guard) and return what it printed."""
    from jupyter_client import KernelManager

    from instructor.grading.run import write_sandbox_kernel
    from instructor.grading.types import Limits

    work = Path(tempfile.mkdtemp(prefix="probe-"))
    write_sandbox_kernel(work, hide, Limits(), [], b"")
    (work / "runtime").mkdir()
    cwd = work / "course" / "autograded" / "student" / "lab"
    cwd.mkdir(parents=True)
    env = {**os.environ, "JUPYTER_PATH": str(work), "JUPYTER_RUNTIME_DIR": str(work / "runtime")}
    old = dict(os.environ)
    os.environ.update(env)
    try:
        km = KernelManager(kernel_name="course-sandbox", transport="ipc",
                           connection_file=str(work / "runtime" / "kernel.json"))
        km.start_kernel(cwd=str(cwd))
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        out = []
        client.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(
            m["content"].get("text", "") + m["content"].get("evalue", "")))
        km.shutdown_kernel(now=True)
        return (work / "marker" / "isolation").read_text() + "".join(out)
    finally:
        os.environ.clear()
        os.environ.update(old)
        shutil.rmtree(work, ignore_errors=True)


def require_bwrap():
    if BWRAP is None:
        message = "bubblewrap (bwrap) is not installed: `make test` installs it (Debian package bubblewrap)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.xdist_group("trust-sandbox")
def test_sandbox_cannot_be_undone_or_escaped(tmp_path):
    require_bwrap()
    secret_dir = tmp_path / "source"
    secret_dir.mkdir()
    (secret_dir / "hidden.ipynb").write_text("HIDDEN TESTS")
    secret_file = tmp_path / "gradebook.db"
    secret_file.write_text("HIDDEN GRADEBOOK")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    code = f"""
import os, socket, subprocess
def tried(label, fn):
    try:
        result = fn()
        print(label, 'OPEN', repr(result)[:60])
    except Exception as err:
        print(label, 'DENIED', type(err).__name__)
secret_dir, secret_file = {str(secret_dir)!r}, {str(secret_file)!r}
print('umount', subprocess.run(['umount', '-l', secret_dir], capture_output=True).returncode)
print('mount', subprocess.run(['mount', '--bind', '/', secret_dir], capture_output=True).returncode)
tried('direct', lambda: open(secret_file).read() or 1/0)
tried('listdir', lambda: os.listdir(secret_dir) or 1/0)
tried('proc-root', lambda: open('/proc/self/root' + secret_file).read() or 1/0)
tried('proc-1-root', lambda: open('/proc/1/root' + secret_file).read() or 1/0)
os.symlink(secret_file, 'link')
tried('symlink', lambda: open('link').read() or 1/0)
tried('dotdot', lambda: open(os.path.relpath(secret_file)).read() or 1/0)
tried('repo-source', lambda: os.listdir({str(ROOT / 'source')!r}) or 1/0)
tried('repo-git', lambda: os.listdir({str(ROOT / '.git')!r}) or 1/0)
tried('loopback', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2))
tried('dns', lambda: socket.getaddrinfo('pypi.org', 443))
tried('signal-grader', lambda: os.kill({os.getpid()}, 0))
tried('see-grader', lambda: open('/proc/{os.getpid()}/status').read())
print('caps', [ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('CapEff')])
"""
    from instructor.grading.run import hidden_paths

    out = sandbox_probe(code, hidden_paths(tmp_path, "student") + [str(secret_dir), str(secret_file)])
    listener.close()
    assert out.startswith("bubblewrap"), out
    assert re.search(r"umount [1-9]", out) and re.search(r"mount [1-9]", out), out
    for label in ("direct", "listdir", "proc-root", "proc-1-root", "symlink", "dotdot", "repo-source", "repo-git",
                  "loopback", "dns", "signal-grader", "see-grader"):
        assert f"{label} DENIED" in out, f"{label} was not denied:\n{out}"
    assert "caps ['0000000000000000']" in out, out
    assert "HIDDEN" not in out


# ----------------------------------------------------------------------------------- attacks
def attacks(lab: Lab) -> dict:
    """Run-time attacks on the tests, each placed in exercise 1 of the untouched release (worth 0)."""
    module, name = ("torch.testing", "assert_close") if lab.torch else ("numpy.testing", "assert_allclose")
    return {
        "input-transformer": "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n",
        "ast-transformer": ("import ast\nclass Blank(ast.NodeTransformer):\n"
                            "    def visit_Module(self, node):\n"
                            "        return ast.Module(body=[ast.Pass()], type_ignores=[])\n"
                            "get_ipython().ast_transformers.append(Blank())\n"),
        "run-cell": ("ip = get_ipython()\nreal = ip.run_cell_async\n"
                     "async def fake(raw_cell, *args, **kwargs):\n"
                     "    return await real('pass', *args, **kwargs)\n"
                     "ip.run_cell_async = fake\n"),
        "silence-errors": ("get_ipython().showtraceback = lambda *a, **k: None\n"
                           "get_ipython()._showtraceback = lambda *a, **k: None\n"),
        "alias-patch": f"import {module} as t\nt.{name} = lambda *a, **k: None\n",
        "dict-write": (f"import {module} as t\nobject.__setattr__(t, {name!r}, lambda *a, **k: None)\n"
                       f"vars(t)[{name!r}] = lambda *a, **k: None\n"),
        "later-thread": (f"import threading, {module} as t\n"
                         f"threading.Timer(0.5, lambda: setattr(t, {name!r}, lambda *a, **k: None)).start()\n"),
        "trace-skip": "import sys\nsys.settrace(lambda *a: None)\n",
        "forge-records": ("import glob\nfor path in glob.glob('/tmp/**/records', recursive=True):\n"
                          "    open(path, 'a').write('99|begin|anything|0|' + '0' * 64 + '\\n')\n"),
    }


def helper_before_last_exercise(lab: Lab) -> str | None:
    """A test helper that a locked cell defines before the last solution cell (swapped at run time)."""
    import ast

    for cell in lab.source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == lab.solutions[-1]:
            return None
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("solution"):
            try:
                body = ast.parse(cell.source).body
            except SyntaxError:
                continue
            names = [n.name for n in body if isinstance(n, ast.FunctionDef)]
            if names:
                return names[0]
    return None


# ----------------------------------------------------------------------------------- honest corpus
def honest(lab: Lab) -> dict:
    """{name: notebook}: correct answers written in the styles real students use."""
    first = lab.solutions[0]

    def variant(prefix="", suffix="", extra_before=(), extra_after=(), replace=()):
        nb = lab.solved()
        cell = lab.cell(nb, first)
        source = cell.source
        for old, new in replace:
            assert old in source, old
            source = source.replace(old, new)
        cell.source = prefix + source + suffix
        index = nb.cells.index(cell)
        nb.cells[index:index + 1] = ([nbformat.v4.new_code_cell(s) for s in extra_before] + [cell] +
                                     [nbformat.v4.new_code_cell(s) for s in extra_after])
        return nb

    cases = {
        "container-class": variant(extra_after=[
            "class Batches:\n    '''A tiny Dataset-style container.'''\n"
            "    def __init__(self, items):\n        self.items = list(items)\n"
            "    def __len__(self):\n        return len(self.items)\n"
            "    def __getitem__(self, i):\n        return self.items[i]\n"
            "    def __iter__(self):\n        return iter(self.items)\n"
            "    def __repr__(self):\n        return f'Batches({len(self)})'\n"
            "b = Batches(range(5))\nprint(b, len(b), b[2], list(b)[:2])\n"]),
        "sys-printing": variant(prefix="import sys\nsys.stdout.write('exercise 1 answer loaded\\n')\n",
                                extra_after=["import sys\nprint('a note on stderr', file=sys.stderr)\n"]),
        "dataclass-config": variant(extra_before=[
            "from dataclasses import dataclass, field\nfrom typing import Optional, Sequence\n\n"
            "@dataclass(frozen=True)\nclass Config:\n    eps: float = 1e-5\n    sizes: Sequence[int] = field(default_factory=lambda: (2, 4))\n"
            "    note: Optional[str] = None\n\nCONFIG = Config()\nprint(CONFIG)\n"]),
        "functools-itertools": variant(extra_after=[
            "import functools, itertools, operator\n\n@functools.lru_cache(maxsize=None)\ndef fib(n: int) -> int:\n"
            "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
            "print(fib(20), list(itertools.islice(itertools.count(), 3)), functools.reduce(operator.add, [1, 2, 3]))\n"]),
        "lambdas-nested": variant(extra_after=[
            "def make_scaler(k):\n    def scale(v):\n        inner = lambda w: w * k\n        return inner(v)\n    return scale\n"
            "square = lambda v: v ** 2\nprint(make_scaler(3)(2), sorted([3, 1, 2], key=lambda v: -v), square(4))\n"]),
        "extra-cells": variant(extra_before=["# scratch work\nimport math\nprint(math.sqrt(2))\n"],
                               extra_after=["import numpy as np\nprint(np.arange(6).reshape(2, 3).mean(axis=0))\n",
                                            "from collections import namedtuple, OrderedDict\n"
                                            "Pair = namedtuple('Pair', 'a b')\nprint(Pair(1, 2), OrderedDict(x=1))\n"]),
        "plot-in-answer": variant(extra_after=[
            "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (3, 2)\n"
            "plt.plot([0, 1], [1, 0])\nplt.title('my check')\nplt.show()\n"]),
        "type-hints-everywhere": variant(extra_before=[
            "from __future__ import annotations\nfrom typing import Callable, TypeVar\nT = TypeVar('T')\n\n"
            "def apply_twice(f: Callable[[T], T], x: T) -> T:\n    return f(f(x))\n\nprint(apply_twice(lambda v: v + 1, 1))\n"]),
        "seeding-and-progress": variant(extra_after=[
            ("import torch\ntorch.manual_seed(0)\ntorch.backends.cudnn.deterministic = True\n" if lab.torch else
             "import keras\nkeras.utils.set_random_seed(0)\n") +
            "from tqdm.auto import tqdm\ntotal = 0\nfor i in tqdm(range(3), disable=True):\n    total += i\nprint(total)\n"]),
    }
    if lab.torch:  # a solution split over several cells: a helper in a cell of its own
        cases["split-over-cells"] = variant(
            extra_before=["def batch_stats(x, dims):\n    '''Biased mean and variance over `dims`.'''\n"
                          "    return x.mean(dim=dims), x.var(dim=dims, unbiased=False)\n"],
            replace=[("            mean = x.mean(dim=dims)\n            var = x.var(dim=dims, unbiased=False)\n",
                      "            mean, var = batch_stats(x, dims)\n")])
    else:
        cases["split-over-cells"] = variant(
            extra_before=["from keras import ops\n\ndef centre(inputs):\n    return inputs - ops.mean(inputs, axis=-1, keepdims=True)\n"],
            replace=[("        mean = ops.mean(inputs, axis=-1, keepdims=True)\n        centred = inputs - mean\n",
                      "        centred = centre(inputs)\n")])
    return cases


DELEGATES = {"pt01_batchnorm": ("        x_hat = (x", "        _ = F.batch_norm(x, None, None, training=True)\n        x_hat = (x"),
             "tf02_layernorm_rmsnorm": ("        mean = ops.mean(", "        _ = keras.ops.layer_normalization(inputs)\n"
                                                                    "        mean = ops.mean(")}


def build_trust_class(lab_id: str, tmp_path: Path, with_honest: bool):
    lab = Lab(lab_id)
    root = tmp_path / "class"
    shutil.copytree(ROOT / "source" / lab_id, root / "source" / lab_id)
    pipeline.release(root, [lab_id])
    subs = {}
    for name, code in attacks(lab).items():
        nb = nbformat.from_dict(lab.release)
        cell = lab.cell(nb, lab.solutions[0])
        cell.source = GUARD_ONLY + code + cell.source
        subs[f"attack-{name}"] = nb
    helper = helper_before_last_exercise(lab)
    if helper:  # the swap must come after the locked cell that defines the helper
        nb = lab.solved()
        cell = lab.cell(nb, lab.solutions[-1])
        cell.source = GUARD_ONLY + f"globals()[{helper!r}] = lambda *a, **k: None\n" + cell.source
        subs["swap-helper"] = nb
    if with_honest:
        subs.update({f"honest-{name}": nb for name, nb in honest(lab).items()})
    nb = lab.solved()
    old, new = DELEGATES[lab_id]
    lab.cell(nb, lab.solutions[0]).source = lab.cell(nb, lab.solutions[0]).source.replace(old, new, 1)
    subs["delegates"] = nb
    for student, nb in subs.items():
        path = root / "submitted" / student / lab_id / f"{lab_id}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(dump(nb))
    return lab, root, subs


@pytest.fixture(scope="module")
def trust_classes(tmp_path_factory):
    """Each lab's trust class graded once; attacks bypass the static scan (the guard alone must hold)."""
    real_scan = dispatch.scan

    def scan(nb, source, lab=""):
        findings, notes = real_scan(nb, source, lab)
        if any(c.cell_type == "code" and c.source.startswith(GUARD_ONLY) for c in nb.cells):
            return [], notes
        return findings, notes

    cache = {}

    def get(lab_id, with_honest):
        if lab_id not in cache:
            lab, root, subs = build_trust_class(lab_id, tmp_path_factory.mktemp(lab_id), with_honest)
            dispatch.scan = scan
            try:
                rows, outcomes = pipeline.grade_class(root, [lab_id], progress=False, limits=LIMITS, workers=2)
            finally:
                dispatch.scan = real_scan
            cache[lab_id] = (lab, {r.student: r.score for r in rows}, {o.student: o for o in outcomes},
                             pipeline.summary(rows, outcomes))
        return cache[lab_id]
    return get


TRUST_LABS = [pytest.param("pt01_batchnorm", True, marks=pytest.mark.xdist_group("trust-pt01")),
              pytest.param("tf02_layernorm_rmsnorm", False, marks=pytest.mark.xdist_group("trust-tf02"))]


@pytest.mark.parametrize("lab_id, with_honest", TRUST_LABS)
def test_runtime_attacks_on_the_tests_earn_nothing(lab_id, with_honest, trust_classes):
    lab, scores, outcomes, report = trust_classes(lab_id, with_honest)
    if BWRAP is None and not os.environ.get("CI"):
        pytest.skip("bubblewrap missing: the guard is tested with the sandbox it runs in")
    # Every attack earns 0; the guard names what it saw, or the attack broke the kernel (crashed, 0).
    problems = [f"{s}: {scores[s]} points, {outcomes[s]}" for s in (f"attack-{name}" for name in attacks(lab))
                if scores[s] != 0 or not (outcomes[s].status == "tampering" and outcomes[s].detail.startswith(
                    "integrity:") or outcomes[s].status == "crashed")]
    assert not problems, "\n".join(problems)
    if "swap-helper" in outcomes:
        assert outcomes["swap-helper"].status == "tampering", outcomes["swap-helper"]
        assert "test helper" in outcomes["swap-helper"].detail, outcomes["swap-helper"]
        assert scores["swap-helper"] == 0


@pytest.mark.parametrize("lab_id, with_honest", TRUST_LABS)
def test_honest_code_is_never_flagged_and_delegation_is_noted(lab_id, with_honest, trust_classes):
    lab, scores, outcomes, report = trust_classes(lab_id, with_honest)
    if with_honest:
        names = [f"honest-{name}" for name in honest(lab)]
        assert len(names) >= 10
        problems = [f"{s}: {scores[s]}/{lab.full}, {outcomes[s]}" for s in names
                    if outcomes[s].status != "graded" or scores[s] != lab.full
                    or any("review" in n or "tamper" in n for n in outcomes[s].notes)]
        assert not problems, "\n".join(problems)
    o = outcomes["delegates"]
    assert o.status == "graded", o
    assert any(n.startswith(f"for review: exercise {lab.solutions[0]} uses") for n in o.notes), o.notes


def test_every_lab_declares_its_from_scratch_exercises():
    for lab in labs():
        assert lab in MUST_NOT_CALL, f"instructor/from_scratch.py: declare {lab} (an empty dict if nothing)"
        source = nbformat.read(ROOT / "source" / lab / f"{lab}.ipynb", as_version=4)
        ids = set(pipeline.solution_cell_ids(source))
        assert set(MUST_NOT_CALL[lab]) <= ids, f"{lab}: unknown solution cells {set(MUST_NOT_CALL[lab]) - ids}"
