"""Small datasets that need no download: they ship inside well-kept packages or are generated.

Every loader returns NumPy arrays, so both the PyTorch and the TensorFlow labs use them.
"""
from __future__ import annotations

import numpy as np


def load_digits_split(test_fraction: float = 0.25, seed: int = 0, standardize: bool = True):
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), split and flattened.

    Returns ``(x_train, y_train, x_test, y_test)`` with ``x_*`` float32 of shape (N, 64) and
    ``y_*`` int64 of shape (N,). Pixels are scaled to [0, 1]; with ``standardize`` each pixel is
    centred and scaled by the training split's statistics (constant pixels keep scale 1).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    x_train, x_test = x[train], x[test]
    if standardize:
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0)
        std[std == 0] = 1.0
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    return x_train.astype(np.float32), y[train], x_test.astype(np.float32), y[test]


def can_reach(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds (name lookup included).

    Loaders ask before a download that would otherwise retry for minutes on a machine without network
    (``tensorflow_datasets`` spends about 3.5 minutes on CIFAR-10 before it gives up), so an offline run
    says so in one line and falls back at once.
    """
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
