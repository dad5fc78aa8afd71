"""Full mode's code path, at smoke size: every lab runs with ``MODE = "full"`` and FULL's *size* knobs cut.

A student who clicks a Colab badge runs full mode. Its flags and branches (``arch="resnet50"``,
``pretrained=True`` with the weights present, ``compile=True``, ``dataset="cifar10"``, the ``_full``
references) stay exactly as in ``FULL``; only sizes (steps, epochs, images, widths, benchmark shapes)
are overridden through papermill, from ``SMOKE`` below. Offline stand-ins make the "download succeeded"
branches run: weights files of the right shapes in torchvision's and Keras' caches
(``tests/fake_weights.py``), and CIFAR-10 through ``tensorflow_datasets.testing.mock_data`` (started in
the kernel by an IPython startup file). ``EVIDENCE`` names, per lab, a line the full-only branch prints:
the test fails when the branch did not run.
"""
from __future__ import annotations

import json

import pytest

from instructor import pipeline
from instructor.notebooks import as_parameter, labs, parameter_tables, source_notebook

LABS = labs()

# FULL's size knobs, cut. Anything not named here keeps FULL's value (flags, architecture, learning rates).
SMOKE = {
    "pt01_batchnorm": {"epochs": 2, "n_trials": 5, "n_probe_examples": 20, "sweep_batches": [4, 16]},
    "pt02_layernorm_rmsnorm": {"bench_shape": [2, 64, 256], "min_run_time": 0.02, "rounds": 2},
    "pt03_weightnorm_spectralnorm": {"hidden": 64, "batch_size": 64, "n_pairs": 200, "n_starts": 10},
    # 128 px, FULL's: below it the deepest FPN level is 1x1, and BatchNorm at B=1 fails there (one value per
    # channel). Three batch sizes, B=1 among them, of FULL's six (quick mode runs all six): ResNet-50 at 128 px
    # trains ~1 image/s on one core, and the six took 13 minutes of the test command.
    "pt04_groupnorm": {"n_train": 4, "n_val": 4, "epochs": 1, "val_batch": 4, "batch_sizes": [1, 2, 4], "mlp_epochs": 1,
                       "mlp_seeds": 1},
    "pt05_adain": {"image_size": 16, "batch_size": 2, "steps": 4, "pool": 4, "show_size": 32},
    "pt06_adaln_zero": {"dim": 32, "cond_dim": 16, "tokens": 16, "batch": 16},  # steps: the lab looks at step 100
    "tf01_batchnorm": {"epochs": 2, "hidden": 32, "flag_probe_examples": 128},
    "tf02_layernorm_rmsnorm": {"bench_shape": [2, 64, 256], "bench_repeat": 3, "bench_number": 2},
    "tf03_spectralnorm": {"hidden": 64, "steps": 30, "batch_size": 64},
    # pt04's three batch sizes (the comparison with pt04's reference uses the batch sizes both ran); 8 images
    # (the detector cell took 170 s of the test command with 64 images at all six)
    "tf04_groupnorm": {"image_size": 64, "n_train": 8, "n_val": 8, "epochs": 1, "val_batch": 8, "batch_sizes": [1, 2, 4],
                       "mlp_epochs": 1, "mlp_seeds": 1},  # one seed (as QUICK): tf04's 20 MLP runs took 27 s
    "tf05_adain": {"show_size": 32, "steps": 3},
    "tf06_film": {"epochs": 20, "batch": 64, "width": 16, "clf_epochs": 5, "n_samples": 20, "max_train": 512},
}
# Knobs that choose a branch or an architecture: never cut (the point is to run full mode's branches).
# (pt04's batch_sizes are a size: no branch depends on which batch sizes run, and QUICK has FULL's six.)
FLAGS = {"arch", "returned_layers", "extra_pool", "head_convs", "blocks", "pretrained", "compile", "dataset",
         "cpu_threads", "heads", "classes", "lr", "base_lr"}
# A line that only the full-only branch prints.
EVIDENCE = {
    "pt02_layernorm_rmsnorm": "compiled nn.LayerNorm",
    "pt05_adain": "(from the cache:",
    "tf05_adain": "(from the cache:",
    "tf06_film": "CIFAR-10 (tensorflow_datasets)",
}


def smoke_full(lab: str) -> dict:
    """FULL with SMOKE's sizes, as papermill can inject it."""
    return as_parameter({**parameter_tables(lab)["FULL"], **SMOKE[lab]})


def test_smoke_sizes_cut_only_sizes():
    assert set(SMOKE) == set(LABS), "every lab needs smoke sizes"
    for lab, cut in SMOKE.items():
        full = parameter_tables(lab)["FULL"]
        assert set(cut) <= set(full), f"{lab}: SMOKE names knobs FULL lacks: {set(cut) - set(full)}"
        assert not set(cut) & FLAGS, f"{lab}: SMOKE overrides a flag of full mode: {set(cut) & FLAGS}"


@pytest.fixture(scope="session")
def caches(tmp_path_factory):
    """TORCH_HOME and KERAS_HOME holding VGG-19 weights files, and an IPython profile that mocks tfds."""
    from fake_weights import keras_vgg19_notop, torch_vgg19_checkpoint

    root = tmp_path_factory.mktemp("full-path-caches")
    torch_vgg19_checkpoint(root / "torch")
    keras_vgg19_notop(root / "keras")
    startup = root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-mock-tfds.py").write_text(MOCK_TFDS)
    return root


# IPython runs this at kernel start (tf06 only): tensorflow_datasets answers from generated data, offline.
# The data are CIFAR-10-shaped and learnable (one hue per class, plus noise), so the lab's own
# assertions about what its models learn hold as they do on the real images.
MOCK_TFDS = """\
import numpy as _np
import tensorflow as _tf
import tensorflow_datasets as _tfds


def _learnable_cifar(self, split, **kwargs):
    train = "train" in str(split)
    n = 512 if train else 256
    rng = _np.random.default_rng(1 if train else 2)
    labels = rng.integers(0, 10, n)
    hue = _np.arange(10)[:, None] / 10 + _np.array([0.0, 1 / 3, 2 / 3])  # ten hues 36 degrees apart
    palette = (0.5 + 0.5 * _np.cos(2 * _np.pi * hue)).reshape(10, 1, 1, 3)
    images = (_np.clip(palette[labels] + 0.1 * rng.standard_normal((n, 32, 32, 3)), 0, 1) * 255).astype(_np.uint8)
    return _tf.data.Dataset.from_tensor_slices({"image": images, "label": labels.astype(_np.int64),
                                                "id": _np.array([b"mock"] * n)})


_tfds_mock = _tfds.testing.mock_data(as_dataset_fn=_learnable_cifar)
_tfds_mock.__enter__()
import course_utils.datasets as _datasets
_datasets.can_reach = lambda *args, **kwargs: True  # the "download" is served by the mock
"""


def outputs_text(path) -> str:
    nb = json.loads(path.read_text())
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain", "")
            parts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(parts)


@pytest.mark.parametrize("lab", LABS)
def test_full_mode_runs_at_smoke_size(lab, caches, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(caches / "torch"))
    monkeypatch.setenv("KERAS_HOME", str(caches / "keras"))
    if lab == "tf06_film":  # only a TensorFlow lab may import tensorflow_datasets at kernel start
        monkeypatch.setenv("IPYTHONDIR", str(caches / "ipython"))
    extra = {"FULL": smoke_full(lab), **pipeline.reference_parameters(lab, tmp_path / "references")}
    pipeline.execute(lab, "full", output_dir=tmp_path, extra_parameters=extra)
    text = outputs_text(tmp_path / f"{lab}.ipynb")
    assert "mode=full" in text, "the run did not take full mode"
    if lab in EVIDENCE:
        assert EVIDENCE[lab] in text, f"{lab}: the full-only branch did not run (no {EVIDENCE[lab]!r} in the outputs)"
    if "cu.Projection(" in source_notebook(lab).read_text():  # a long loop says how long it takes, and how to get out
        assert "in all on this machine" in text and 'Set MODE = "quick" in the parameters cell' in text, \
            f"{lab}: full mode printed no projection of its long loop with the way to switch to quick mode"


def test_evidence_catches_a_branch_that_did_not_run(tmp_path, monkeypatch):
    """With no weights in torchvision's cache, pt05's pretrained branch falls back (as it must offline), and
    the evidence check says that the branch under test did not run."""
    lab = "pt05_adain"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-cache"))
    pipeline.execute(lab, "full", output_dir=tmp_path, extra_parameters={
        "FULL": smoke_full(lab), **pipeline.reference_parameters(lab, tmp_path / "references")})
    text = outputs_text(tmp_path / f"{lab}.ipynb")
    assert "mode=full" in text and "NOT pretrained" in text and EVIDENCE[lab] not in text
