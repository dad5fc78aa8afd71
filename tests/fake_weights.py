"""Weights files of the right shapes, placed where torchvision and Keras cache their downloads, so that
the "the pretrained weights are there" branch of the labs runs offline.

* PyTorch: ``$TORCH_HOME/hub/checkpoints/<the file name VGG19_Weights.IMAGENET1K_V1 expects>``, a state
  dict of VGG-19's convolutions up to relu4_1 (the part the course loads).
* Keras: ``$KERAS_HOME/models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` in Keras' legacy HDF5
  weights format, the format of the real download (written in a subprocess: TensorFlow and torchvision
  must not share a process).

The weights are He-normal with seed 1, so they differ from the offline fallback (seed 0) and a test can
tell which one a loader used.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

FAKE_SEED = 1


def torch_vgg19_checkpoint(torch_home: Path) -> Path:
    import torch
    from torchvision.models import VGG19_Weights

    from course_utils import pretrained as pr

    path = Path(torch_home) / "hub" / "checkpoints" / os.path.basename(VGG19_Weights.IMAGENET1K_V1.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {}
    for name, (weight, bias) in pr.fallback_vgg19_arrays(FAKE_SEED).items():
        state[f"features.{pr.TORCH_INDEX[name]}.weight"] = torch.from_numpy(weight)
        state[f"features.{pr.TORCH_INDEX[name]}.bias"] = torch.from_numpy(bias)
    torch.save(state, path)
    return path


KERAS_WRITER = textwrap.dedent("""
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import h5py, keras
    from keras.src.legacy.saving import legacy_h5_format
    from course_utils import pretrained as pr
    model = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    for name, (weight, bias) in pr.fallback_vgg19_arrays(int(sys.argv[2])).items():
        model.get_layer(pr.KERAS_LAYER[name]).set_weights([weight.transpose(2, 3, 1, 0), bias])
    with h5py.File(sys.argv[1], "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
""")


def keras_vgg19_notop(keras_home: Path) -> Path:
    from course_utils import pretrained as pr

    path = Path(keras_home) / "models" / pr.KERAS_VGG19_NOTOP
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", KERAS_WRITER, str(path), str(FAKE_SEED)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path
