"""What each from-scratch exercise must not call: the course's one declaration (plain data, no framework).

Two readers use it:

* the notebooks' tests block the built-ins at run time (``builtins_blocked()`` of
  :mod:`course_utils.testing.torch` / :mod:`course_utils.testing.keras`): ``make tidy`` stamps the lab's
  :func:`runtime_rules` into its harness cell as ``FORBIDDEN_OPS`` and ``FORBIDDEN_ATTRIBUTES``;
* the grader's review (``instructor/from_scratch.py``) reads :func:`must_not_call` and names, for the
  instructor, an answer that reaches a built-in through any import alias.

A family has three parts:

``ops``
    PyTorch: fragments of the names PyTorch's function and dispatch modes report (``batch_norm`` matches
    ``F.batch_norm``, ``torch.batch_norm``, ``aten.native_batch_norm.default`` ...), so every route to
    the kernel is refused, aliases and ``torch.ops.aten`` included. Keras/TF: exact names of functions
    that are replaced in every loaded ``keras``/``tensorflow`` module (front end, backend and raw ops).
``attributes``
    dotted paths replaced for the duration of the block (a ``*`` in the last class segment matches
    several classes: ``keras.layers.*Normalization.call``); a path whose module is not installed is
    skipped.
``names``
    canonical dotted names (and prefixes) the static review looks for in an answer's source.
"""
from __future__ import annotations

FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "torch-norms": {
        "ops": ("batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm"),
        "attributes": (),
        "names": ("torch.nn.functional.batch_norm", "torch.nn.functional.layer_norm",
                  "torch.nn.functional.group_norm", "torch.nn.functional.instance_norm",
                  "torch.nn.functional.rms_norm", "torch.batch_norm", "torch.native_batch_norm", "torch.layer_norm",
                  "torch.native_layer_norm", "torch.group_norm", "torch.native_group_norm", "torch.instance_norm",
                  "torch.rms_norm", "torch.ops.aten", "torch._C._nn", "torch.nn.BatchNorm1d", "torch.nn.BatchNorm2d",
                  "torch.nn.BatchNorm3d", "torch.nn.LayerNorm", "torch.nn.GroupNorm", "torch.nn.RMSNorm",
                  "torch.nn.InstanceNorm1d", "torch.nn.InstanceNorm2d", "torch.nn.InstanceNorm3d",
                  "torch.nn.modules.batchnorm", "torch.nn.modules.normalization", "torch.nn.modules.instancenorm"),
    },
    "torch-weight-norm": {
        "ops": ("weight_norm", "norm_except_dim"),
        "attributes": (),
        "names": ("torch.nn.utils.weight_norm", "torch.nn.utils.parametrizations.weight_norm", "torch._weight_norm",
                  "torch.norm_except_dim", "torch.ops.aten"),
    },
    "torch-spectral": {
        "ops": ("svd", "linalg_eig", "lobpcg", "matrix_norm"),
        "attributes": ("torch.nn.utils.parametrizations._SpectralNorm.forward",
                       "torch.nn.utils.spectral_norm.SpectralNorm.compute_weight",
                       "numpy.linalg.svd", "numpy.linalg.eig", "numpy.linalg.eigh", "numpy.linalg.eigvals",
                       "numpy.linalg.eigvalsh", "numpy.linalg.matrix_norm"),
        "names": ("torch.nn.utils.spectral_norm", "torch.nn.utils.parametrizations.spectral_norm", "torch.linalg.svd",
                  "torch.linalg.svdvals", "torch.linalg.matrix_norm", "torch.svd", "numpy.linalg.svd",
                  "numpy.linalg.norm", "torch.ops.aten"),
    },
    "keras-norms": {
        "ops": ("layer_normalization", "_layer_normalization", "rms_normalization", "_rms_normalization",
                "batch_normalization", "batch_norm_with_global_normalization", "BatchNormWithGlobalNormalization",
                "fused_batch_norm", "_fused_batch_norm", "fused_batch_norm_v2", "fused_batch_norm_v3",
                "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "group_normalization",
                "instance_normalization"),
        "attributes": ("keras.layers.*Normalization.call",),
        "names": ("keras.layers.BatchNormalization", "keras.layers.LayerNormalization",
                  "keras.layers.GroupNormalization", "keras.layers.RMSNormalization", "keras.layers.UnitNormalization",
                  "keras.ops.batch_normalization", "keras.ops.layer_normalization", "keras.ops.rms_normalization",
                  "keras.src.ops.nn", "keras.src.layers.normalization", "keras.src.backend",
                  "tensorflow.nn.batch_normalization", "tensorflow.nn.fused_batch_norm", "tensorflow.compat",
                  "tensorflow.raw_ops", "tensorflow.keras.layers.BatchNormalization",
                  "tensorflow.keras.layers.LayerNormalization", "tensorflow.keras.layers.GroupNormalization"),
    },
    "keras-spectral": {
        "ops": ("normalize", "l2_normalize", "svd", "Svd"),
        "attributes": ("keras.layers.SpectralNormalization.normalized_weights", "numpy.linalg.svd",
                       "numpy.linalg.eig", "numpy.linalg.eigh", "numpy.linalg.eigvals", "numpy.linalg.eigvalsh"),
        "names": ("keras.layers.SpectralNormalization", "keras.src.layers.normalization", "tensorflow.linalg.svd",
                  "keras.ops.svd", "keras.ops.normalize", "keras.utils.normalize", "numpy.linalg.svd",
                  "tensorflow.raw_ops"),
    },
}

# lab -> solution cell (grade_id) -> families. Every lab is declared: an empty dict says that no exercise
# of the lab reimplements a built-in (tests/test_trust.py checks that every lab is here).
FROM_SCRATCH: dict[str, dict[str, tuple[str, ...]]] = {
    "pt01_batchnorm": {"my_batchnorm1d": ("torch-norms",)},
    "pt02_layernorm_rmsnorm": {"my_layernorm": ("torch-norms",), "my_rmsnorm": ("torch-norms",)},
    "pt03_weightnorm_spectralnorm": {"my_weightnorm_linear": ("torch-weight-norm",),
                                     "power_iteration": ("torch-spectral",)},
    "pt04_groupnorm": {"my_groupnorm": ("torch-norms",)},
    "pt05_adain": {"adain": ("torch-norms",)},
    "pt06_adaln_zero": {},
    "tf01_batchnorm": {"my_batchnorm": ("keras-norms",)},
    "tf02_layernorm_rmsnorm": {"my_layernorm": ("keras-norms",), "my_rmsnorm": ("keras-norms",)},
    "tf03_spectralnorm": {"power_iteration_step": ("keras-spectral",)},
    "tf04_groupnorm": {"my_groupnorm": ("keras-norms",)},
    "tf05_adain": {"adain_layer": ("keras-norms",)},
    "tf06_film": {},
}


def _declared(lab: str) -> dict[str, tuple[str, ...]]:
    if lab not in FROM_SCRATCH:
        raise KeyError(f"unknown lab {lab!r}: declare it in course_utils/testing/rules.py FROM_SCRATCH")
    return FROM_SCRATCH[lab]


def _union(lab: str, part: str) -> tuple[str, ...]:
    out: list[str] = []
    for families in _declared(lab).values():
        for family in families:
            out += [item for item in FAMILIES[family][part] if item not in out]
    return tuple(out)


def runtime_rules(lab: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(ops, attributes) that ``builtins_blocked()`` refuses in ``lab``: the union over its exercises."""
    return _union(lab, "ops"), _union(lab, "attributes")


def must_not_call(lab: str) -> dict[str, list[str]]:
    """solution cell -> dotted names its answer must not reach (the static review's rules)."""
    rules: dict[str, list[str]] = {}
    for cell, families in _declared(lab).items():
        for family in families:
            rules.setdefault(cell, []).extend(n for n in FAMILIES[family]["names"] if n not in rules.get(cell, []))
    return rules
