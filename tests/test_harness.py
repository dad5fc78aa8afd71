"""The shared test harness (course_utils/testing): one definition per helper, stamped into every lab that
uses it, and its blocking refuses every route to a forbidden built-in in every lab (no kernel).

Each lab's check executes the harness cells *of that lab's notebook*, so a helper weakened in the package
and stamped fails here for every lab that uses it, and a notebook copy edited by hand fails the tidy
check (tests/test_course_layout.py).
"""
import ast
import json

import nbformat
import numpy as np
import pytest

from course_utils.testing import rules
from instructor import harness
from instructor.notebooks import labs, source_notebook


def _cells(lab):
    return nbformat.read(source_notebook(lab), as_version=4).cells


def _harness_namespace(lab, setup):
    ns = {}
    exec(setup, ns)
    for cell in _cells(lab):
        if harness.is_harness(cell):
            exec(compile(cell.source, f"<{lab} harness>", "exec"), ns)
    return ns


PACKAGE_HELPERS = {node.name for module in ("common", "torch", "keras")
                   for node in ast.parse((harness.PACKAGE / f"{module}.py").read_text()).body
                   if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.parametrize("lab", labs())
def test_helpers_have_one_definition(lab):
    """No locked cell outside the stamped harness defines a helper the package defines; every lab with a
    from-scratch exercise stamps the run-time blocking; harness cells are locked and named *helpers."""
    twins = []
    for cell in _cells(lab):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        if harness.is_harness(cell):
            assert meta.get("locked") and str(meta.get("grade_id", "")).endswith("helpers"), \
                f"{lab}: harness cell {meta.get('grade_id')} must be locked and its grade_id end in 'helpers'"
            continue
        try:
            tree = ast.parse("\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                                       for ln in cell.source.splitlines()))
        except SyntaxError:
            continue
        twins += [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                  and n.name in PACKAGE_HELPERS and meta.get("locked")]
    assert not twins, f"{lab}: helpers defined again outside the stamped harness: {twins} (stamp them instead)"
    if rules.FROM_SCRATCH[lab]:
        stamped = [c for c in _cells(lab) if harness.is_harness(c) and "def builtins_blocked(" in c.source]
        assert stamped, f"{lab}: declares from-scratch exercises but stamps no builtins_blocked"


def test_stamp_rejects_an_unknown_helper():
    with pytest.raises(harness.StampError, match="no helper 'torch.no_such_helper'"):
        harness.stamp_source("# stamp: torch.no_such_helper", "pt01_batchnorm")


def test_rules_cover_every_lab_and_family():
    assert set(rules.FROM_SCRATCH) == set(labs())
    used = {f for cells in rules.FROM_SCRATCH.values() for families in cells.values() for f in families}
    assert used <= set(rules.FAMILIES)
    assert rules.runtime_rules("pt06_adaln_zero") == ((), ())
    with pytest.raises(KeyError, match="unknown lab 'pt99'"):
        rules.runtime_rules("pt99")


def torch_routes():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    x, W = torch.randn(4, 6, 3), torch.randn(5, 6, dtype=torch.float64)
    bn = F.batch_norm  # an alias taken before the block
    return {
        "torch-norms": {
            "F.batch_norm": lambda: F.batch_norm(x, None, None, training=True),
            "alias of F.batch_norm": lambda: bn(x, None, None, training=True),
            "torch.ops.aten.native_layer_norm": lambda: torch.ops.aten.native_layer_norm(x, [3], None, None, 1e-5),
            "torch.group_norm": lambda: torch.group_norm(x, 2),
            "nn.GroupNorm": lambda: nn.GroupNorm(2, 6)(x),
            "F.instance_norm": lambda: F.instance_norm(x),
            "F.rms_norm": lambda: F.rms_norm(x, [3]),
            "nn.LayerNorm": lambda: nn.LayerNorm(3)(x)},
        "torch-weight-norm": {
            "torch._weight_norm": lambda: torch._weight_norm(W, torch.ones(5, 1, dtype=W.dtype), 0),
            "torch.norm_except_dim": lambda: torch.norm_except_dim(W, 2, 0),
            "parametrizations.weight_norm": lambda: nn.utils.parametrizations.weight_norm(nn.Linear(6, 5))(x[:, :, 0])},
        "torch-spectral": {
            "torch.linalg.svdvals": lambda: torch.linalg.svdvals(W),
            "Tensor.svd": lambda: W.svd(),
            "torch.linalg.matrix_norm(ord=2)": lambda: torch.linalg.matrix_norm(W, ord=2),
            "torch.linalg.norm(ord=2)": lambda: torch.linalg.norm(W, 2),
            "torch.linalg.eigvalsh": lambda: torch.linalg.eigvalsh(W.T @ W),
            "torch.lobpcg": lambda: torch.lobpcg(W.T @ W, k=1),
            "numpy.linalg.svd": lambda: np.linalg.svd(W.numpy()),
            "parametrizations.spectral_norm": lambda: nn.utils.parametrizations.spectral_norm(nn.Linear(6, 5))(x[:, :, 0]),
            "nn.utils.spectral_norm": lambda: nn.utils.spectral_norm(nn.Linear(6, 5))(x[:, :, 0])},
    }, lambda: ((x - x.mean(1, keepdim=True)) / x.var(1, keepdim=True).add(1e-5).sqrt() @ torch.ones(3)
                + W.norm() + torch.linalg.vector_norm(W[0]) + F.normalize(W, dim=0).sum())


def keras_routes():
    import keras
    import tensorflow as tf
    x = tf.random.normal((2, 4, 4, 6))
    kernel = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    sn = keras.layers.SpectralNormalization(keras.layers.Dense(3))
    sn.build((None, 6))
    return {
        "keras-norms": {
            "keras.ops.layer_normalization": lambda: keras.ops.layer_normalization(x),
            "keras.ops.rms_normalization": lambda: keras.ops.rms_normalization(x),
            "keras.ops.batch_normalization": lambda: keras.ops.batch_normalization(x, 0.0, 1.0, axis=-1),
            "tf.nn.batch_normalization": lambda: tf.nn.batch_normalization(x, 0.0, 1.0, None, None, 1e-3),
            "tf.compat.v1.nn.fused_batch_norm": lambda: tf.compat.v1.nn.fused_batch_norm(x, tf.ones(6), tf.zeros(6)),
            "keras.layers.LayerNormalization": lambda: keras.layers.LayerNormalization()(x),
            "keras.layers.GroupNormalization": lambda: keras.layers.GroupNormalization(groups=6)(x),
            "keras.layers.BatchNormalization": lambda: keras.layers.BatchNormalization()(x, training=True)},
        "keras-spectral": {
            "keras.ops.normalize": lambda: keras.ops.normalize(kernel),
            "tf.math.l2_normalize": lambda: tf.math.l2_normalize(kernel),
            "tf.linalg.svd": lambda: tf.linalg.svd(kernel),
            "keras.ops.svd": lambda: keras.ops.svd(kernel),
            "SpectralNormalization.normalized_weights": lambda: sn.normalized_weights(),
            "numpy.linalg.svd": lambda: np.linalg.svd(kernel)},
    }, lambda: keras.ops.mean(x, axis=(1, 2)) + keras.ops.sqrt(keras.ops.var(x, axis=(1, 2)) + 1e-5) + \
        tf.reduce_sum(tf.matmul(kernel, tf.transpose(kernel)))


def _check_blocking(lab, routes, allowed, setup):
    ns = _harness_namespace(lab, setup)
    families = {f for fs in rules.FROM_SCRATCH[lab].values() for f in fs}
    escaped = []
    with ns["builtins_blocked"]():
        allowed()  # elementary operations still work inside the block
        for family in sorted(families):
            for route, call in routes[family].items():
                try:
                    call()
                except AssertionError:
                    continue
                escaped.append(f"{family}: {route}")
    assert not escaped, f"{lab}: builtins_blocked() let these through:\n" + "\n".join(escaped)
    for family in families:  # and the block is gone afterwards
        for call in routes[family].values():
            call()


TORCH_LABS = [lab for lab in labs() if lab.startswith("pt") and rules.FROM_SCRATCH[lab]]
KERAS_LABS = [lab for lab in labs() if lab.startswith("tf") and rules.FROM_SCRATCH[lab]]


@pytest.mark.parametrize("lab", TORCH_LABS)
def test_torch_blocking_refuses_every_route(lab):
    routes, allowed = torch_routes()
    _check_blocking(lab, routes, allowed, "import torch, numpy as np\nimport torch.nn as nn\nimport torch.nn.functional as F")


KERAS_SETUP = "import keras, numpy as np\nimport tensorflow as tf\nfrom keras import ops"
KERAS_CHECK = """
import json, sys
sys.path.insert(0, "tests")
import test_harness as t
out = {}
for lab in t.KERAS_LABS:
    try:
        t._check_blocking(lab, *t.keras_routes(), t.KERAS_SETUP)
        out[lab] = "ok"
    except AssertionError as err:
        out[lab] = str(err)
# builtin_targets skips modules that define none of the ops (a C-level check); it must find what the plain
# scan finds, in the same order, modules whose __dict__ is not a dict (a class in sys.modules) included
import types
from course_utils.testing import keras as kh, rules
ops = rules.runtime_rules(t.KERAS_LABS[0])[0]
fake = types.ModuleType("keras_fake_route"); setattr(fake, ops[0], lambda: 0); sys.modules[fake.__name__] = fake
Cls = type("keras_class_route", (), {ops[-1]: staticmethod(lambda: 0)}); sys.modules[Cls.__name__] = Cls
plain = [(m, n) for m in list(sys.modules.values()) if str(getattr(m, "__name__", "")).startswith(("keras", "tensorflow",
         "tf_keras")) for n in ops if callable(getattr(m, "__dict__", {}).get(n))]
found = kh.builtin_targets(ops)
out["builtin_targets"] = "ok" if found == plain and {(fake, ops[0]), (Cls, ops[-1])} <= set(found) else \
    f"builtin_targets finds {len(found)} targets, the plain scan {len(plain)}"
print(json.dumps(out))
"""


def test_keras_blocking_refuses_every_route():
    """Every TF lab's stamped blocking, in a process of its own: TensorFlow and torch in one process crash
    (a pytest worker has usually imported torch)."""
    import subprocess
    import sys
    from pathlib import Path
    pytest.importorskip("tensorflow")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", KERAS_CHECK], cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(results) == {*KERAS_LABS, "builtin_targets"}
    failed = {lab: why for lab, why in results.items() if why != "ok"}
    assert not failed, "\n".join(failed.values())


# one attack per helper kind: rebinding a stamped helper, or changing what it relies on, from an answer cell
ATTACKS = {
    "blocking": "builtins_blocked = lambda *args, **kwargs: __import__('contextlib').nullcontext()",
    "blocking rules": "FORBIDDEN_OPS = ()",
    "blocking mode": "NoBuiltinKernels.__torch_dispatch__ = lambda self, func, types, args=(), kwargs=None: func(*args, **(kwargs or {}))",
    "parity": "def assert_matches_builtin(mine, ref, x, what):\n    return None",
    "gradients": "assert_same_gradients = gradients = print",
    "errors": "def raises_value_error(fn, *must_mention):\n    return ''",
    "patching": "patched.__defaults__ = None",
}


@pytest.mark.parametrize("lab", [lab for lab in labs() if rules.FROM_SCRATCH[lab]])
def test_answers_cannot_replace_stamped_helpers(lab):
    """The integrity scan treats stamped helpers as locked code: each attack, appended to the lab's first
    answer, is a severe finding that names the helper."""
    from instructor.safety import find_tampering
    source = nbformat.read(source_notebook(lab), as_version=4)
    stamped = "\n".join(c.source for c in source.cells if harness.is_harness(c))
    answer = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution"))
    missed = []
    for kind, attack in ATTACKS.items():
        defined = {n.name for n in ast.parse(stamped).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        if not {n.id for n in ast.walk(ast.parse(attack)) if isinstance(n, ast.Name)} & (defined | {"FORBIDDEN_OPS"}):
            continue  # this lab does not stamp that helper
        submission = nbformat.from_dict(source)
        cell = next(c for c in submission.cells if c.get("id") == answer.get("id"))
        cell.source += "\n\n" + attack
        findings = [f for f in find_tampering(submission, source) if f.severe]
        if not findings:
            missed.append(f"{kind}: {attack.splitlines()[0]}")
    assert not missed, f"{lab}: answers that replace a stamped helper without a severe finding:\n" + "\n".join(missed)
