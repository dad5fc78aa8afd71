"""TensorFlow/Keras helpers (imports TensorFlow: use only in TensorFlow labs, never with torch)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ info lines off stderr

import tensorflow as tf  # noqa: E402


def describe_devices() -> str:
    """'GPU: ...' or 'CPU only' for the setup cell."""
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU: {', '.join(g.name for g in gpus)}" if gpus else "CPU only"
