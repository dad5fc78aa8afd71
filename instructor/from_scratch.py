"""From-scratch exercises: which built-in each one must not delegate to, and the review note when it does.

``MUST_NOT_CALL[lab][solution cell]`` lists dotted names (canonical module paths) and prefixes; a
solution cell that reaches one of them, through any import alias (``F.batch_norm``,
``from torch.nn.functional import batch_norm as bn``, ``torch.ops.aten...``, ``keras.ops...``), gets a
note for the instructor: the tests of most labs also block the built-in at run time, but a note names
the delegation even where a test cannot. Every lab is declared (an empty dict: no exercise
reimplements a built-in), so a new lab cannot be forgotten (``tests/test_trust.py`` checks it).
"""
from __future__ import annotations

import ast

import nbformat

from .grading.notes import note

_TORCH_NORMS = ["torch.nn.functional.batch_norm", "torch.nn.functional.layer_norm", "torch.nn.functional.group_norm",
                "torch.nn.functional.instance_norm", "torch.nn.functional.rms_norm", "torch.batch_norm",
                "torch.native_batch_norm", "torch.layer_norm", "torch.native_layer_norm", "torch.group_norm",
                "torch.native_group_norm", "torch.instance_norm", "torch.rms_norm", "torch.ops.aten",
                "torch._C._nn", "torch.nn.BatchNorm1d", "torch.nn.BatchNorm2d", "torch.nn.BatchNorm3d",
                "torch.nn.LayerNorm", "torch.nn.GroupNorm", "torch.nn.RMSNorm", "torch.nn.InstanceNorm1d",
                "torch.nn.InstanceNorm2d", "torch.nn.InstanceNorm3d", "torch.nn.modules.batchnorm",
                "torch.nn.modules.normalization", "torch.nn.modules.instancenorm"]
_KERAS_NORMS = ["keras.layers.BatchNormalization", "keras.layers.LayerNormalization", "keras.layers.GroupNormalization",
                "keras.layers.RMSNormalization", "keras.layers.UnitNormalization", "keras.ops.batch_normalization",
                "keras.ops.layer_normalization", "keras.ops.rms_normalization", "keras.src.ops.nn",
                "keras.src.layers.normalization", "keras.src.backend", "tensorflow.nn.batch_normalization",
                "tensorflow.nn.fused_batch_norm", "tensorflow.compat", "tensorflow.raw_ops",
                "tensorflow.keras.layers.BatchNormalization", "tensorflow.keras.layers.LayerNormalization"]
_SPECTRAL = ["torch.nn.utils.spectral_norm", "torch.nn.utils.parametrizations.spectral_norm", "torch.linalg.svd",
             "torch.linalg.svdvals", "torch.linalg.matrix_norm", "torch.svd", "numpy.linalg.svd", "numpy.linalg.norm"]

MUST_NOT_CALL: dict[str, dict[str, list[str]]] = {
    "pt01_batchnorm": {"my_batchnorm1d": _TORCH_NORMS},
    "pt02_layernorm_rmsnorm": {"my_layernorm": _TORCH_NORMS, "my_rmsnorm": _TORCH_NORMS},
    "pt03_weightnorm_spectralnorm": {
        "my_weightnorm_linear": ["torch.nn.utils.weight_norm", "torch.nn.utils.parametrizations.weight_norm",
                                 "torch._weight_norm", "torch.norm_except_dim", "torch.ops.aten"],
        "power_iteration": _SPECTRAL},
    "pt04_groupnorm": {"my_groupnorm": _TORCH_NORMS},
    "pt05_adain": {},
    "pt06_adaln_zero": {},
    "tf01_batchnorm": {"my_batchnorm": _KERAS_NORMS},
    "tf02_layernorm_rmsnorm": {"my_layernorm": _KERAS_NORMS, "my_rmsnorm": _KERAS_NORMS},
    "tf03_spectralnorm": {"power_iteration_step": [
        "keras.layers.SpectralNormalization", "keras.src.layers.normalization", "tensorflow.linalg.svd",
        "keras.ops.svd", "numpy.linalg.svd", "tensorflow.raw_ops"]},
    "tf04_groupnorm": {"my_groupnorm": _KERAS_NORMS},
    "tf05_adain": {},
    "tf06_film": {},
}


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
