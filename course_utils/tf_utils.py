"""TensorFlow/Keras helpers (imports TensorFlow: use only in TensorFlow labs, never with torch)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ info lines off stderr

import tensorflow as tf  # noqa: E402


def describe_devices() -> str:
    """'GPU: ...' or 'CPU only' for the setup cell."""
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU: {', '.join(g.name for g in gpus)}" if gpus else "CPU only"


class expected_retracing:
    """Within the block, TensorFlow's "excessive retracing" warning is not printed (other warnings are).

    For loops that build a new model, and so trace a new ``tf.function``, on purpose at every iteration.
    """

    class _Filter:
        @staticmethod
        def filter(record) -> bool:
            return "triggered tf.function retracing" not in record.getMessage()

    def __enter__(self):
        tf.get_logger().addFilter(self._Filter)
        return self

    def __exit__(self, *exc):
        tf.get_logger().removeFilter(self._Filter)
        return False
