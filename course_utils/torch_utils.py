"""PyTorch helpers (imports torch: use only in PyTorch labs)."""
from __future__ import annotations

import torch


def pick_device(prefer: str | None = None) -> torch.device:
    """The device a lab runs on: ``prefer`` if given, else CUDA, else Apple MPS, else CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_tensors(*arrays, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
    """NumPy arrays -> tensors on ``device``; integer arrays become int64 (class labels)."""
    out = []
    for a in arrays:
        t = torch.as_tensor(a)
        out.append(t.to(device=device, dtype=torch.int64 if not t.is_floating_point() else dtype))
    return tuple(out)


def benchmark(fn, *args, label: str, min_run_time: float = 1.0, **kwargs):
    """Time ``fn(*args, **kwargs)`` with ``torch.utils.benchmark`` (warm-up, CUDA sync, many runs).

    Returns a ``torch.utils.benchmark.Measurement``; ``.median`` is in seconds.
    """
    from torch.utils import benchmark as tb

    timer = tb.Timer(stmt="fn(*args, **kwargs)", globals={"fn": fn, "args": args, "kwargs": kwargs},
                     label=label, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time)
