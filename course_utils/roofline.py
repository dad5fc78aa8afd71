"""Whether a bandwidth table is a memory roofline, and why not when it is not (framework-neutral).

A memory-bound kernel that reads its input once and writes its output once cannot beat a copy of the same
bytes. When a table says it does, or when the data fits in the CPU's last-level cache, the numbers measure
per-call overhead, noise or cache bandwidth, and the lab must say so instead of reading them as a roofline.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

MiB = 1024 * 1024


def last_level_cache_bytes(cpu: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> int | None:
    """The size of this CPU's highest-level cache, from Linux's sysfs; None where it cannot be read."""
    best = None
    try:
        for index in cpu.glob("index*"):
            level = int((index / "level").read_text())
            text = (index / "size").read_text().strip().upper()
            scale = {"K": 1024, "M": MiB, "G": 1024 * MiB}.get(text[-1:], 1)
            size = int(text.rstrip("KMG")) * scale
            if best is None or level > best[0] or (level == best[0] and size > best[1]):
                best = (level, size)
    except (OSError, ValueError):
        return None
    return best[1] if best else None


def roofline_caveats(fractions: Mapping[str, float], bytes_moved: int, *, on_cpu: bool,
                     cache_bytes: int | None = None, tolerance: float = 1.1) -> list[str]:
    """Reasons why a table of ``fractions`` (copy time / kernel time, one per variant) is not a roofline.

    ``bytes_moved`` is what one call reads and writes; ``cache_bytes`` the last-level cache (read from the
    machine when None and ``on_cpu``). A fraction above ``tolerance`` (timings scatter a little) is
    physically impossible for a memory-bound kernel.
    """
    if not tolerance >= 1:
        raise ValueError(f"tolerance must be at least 1, got {tolerance!r}")
    caveats = []
    beat = {name: f for name, f in fractions.items() if f > tolerance}
    if beat:
        worst = max(beat, key=beat.get)
        caveats.append(f"{', '.join(beat)} measured up to {beat[worst]:.2f}x the speed of a copy of the same bytes "
                       f"({worst}), which no memory-bound kernel can do: at this size the timings are per-call "
                       f"overhead and noise, not bandwidth")
    if on_cpu:
        cache_bytes = last_level_cache_bytes() if cache_bytes is None else cache_bytes
        if cache_bytes and bytes_moved <= cache_bytes:
            caveats.append(f"input and output ({bytes_moved / MiB:.1f} MiB) fit in this CPU's last-level cache "
                           f"({cache_bytes / MiB:.0f} MiB): the copy measures cache bandwidth, not memory")
    return caveats


def roofline_verdict(fractions: Mapping[str, float], bytes_moved: int, *, on_cpu: bool,
                     cache_bytes: int | None = None, tolerance: float = 1.1) -> str:
    """One line for under the table: whether it can be read as a memory roofline, and why not."""
    if on_cpu and cache_bytes is None:
        cache_bytes = last_level_cache_bytes()  # read once, for the caveats and for the verdict's wording
    caveats = roofline_caveats(fractions, bytes_moved, on_cpu=on_cpu, cache_bytes=cache_bytes, tolerance=tolerance)
    if caveats:
        return "NOT a memory roofline: " + "; ".join(caveats) + ". The full shape is the measurement to read."
    where = ""
    if on_cpu:
        where = (f", more than this CPU's last-level cache ({cache_bytes / MiB:.0f} MiB)" if cache_bytes
                 else " (this CPU's cache size could not be read)")
    return (f"a memory roofline: no variant beats the copy by more than timing scatter (at most {tolerance:g}x), "
            f"with {bytes_moved / MiB:.0f} MiB moved per call{where}")
