"""Full mode's wall time on this machine: measured where it fits, projected from a cut run where it does not.

``python benchmarks/full_mode.py [--labs ...] [--out build/full_mode.md]`` runs each lab's solution notebook
with ``MODE = "full"``. For the labs named in ``CUTS`` only the step/epoch counts (and, for the
detection sweeps, the number of training images) are divided by a factor; the projection is the cut
run's time times that factor. That overestimates: the fixed cost of a run (imports, data, plots,
tests) is multiplied too, and the table says so. Offline, the pretrained/CIFAR-10 branches fall back
(VGG-19 not pretrained, digits instead of CIFAR-10) exactly as a student's offline run would.
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from instructor import pipeline  # noqa: E402
from instructor.notebooks import as_parameter, labs, parameter_tables  # noqa: E402

# lab -> (knobs cut, factor): the projection multiplies the cut run's time by the factor
CUTS = {
    "pt04_groupnorm": ({"epochs": 1, "n_train": 64}, 5 * 512 / 64),
    "tf04_groupnorm": ({"epochs": 1, "n_train": 64}, 5 * 512 / 64),
    "pt05_adain": ({"steps": 100}, 2000 / 100),
    "pt06_adaln_zero": ({"steps": 100}, 400 / 100),
    "tf03_spectralnorm": ({"steps": 60}, 300 / 60),
}


def full_table(lab: str) -> dict:
    return as_parameter(parameter_tables(lab)["FULL"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--labs", nargs="*", default=None)
    parser.add_argument("--out", type=Path, default=Path("build/full_mode.md"))
    args = parser.parse_args()
    rows = [f"machine: {platform.processor() or platform.machine()}, CPU only", "",
            "| lab | run | wall time | full-mode time |", "|---|---|---|---|"]
    for lab in args.labs or labs():
        cut, factor = CUTS.get(lab, ({}, 1.0))
        extra = {"FULL": {**full_table(lab), **cut}}
        with tempfile.TemporaryDirectory() as tmp:
            extra.update(pipeline.reference_parameters(lab, Path(tmp)))
            start = time.perf_counter()
            try:
                pipeline.execute(lab, "full", output_dir=Path(tmp), extra_parameters=extra)
                ok = ""
            except Exception as err:  # noqa: BLE001  reported in the table
                ok = f" FAILED ({type(err).__name__})"
            seconds = time.perf_counter() - start
        what = "full" if not cut else "full, " + ", ".join(f"{k}={v}" for k, v in cut.items())
        full = f"{seconds:.0f} s measured" if not cut else f"~{seconds * factor / 60:.0f} min projected (x{factor:g})"
        rows.append(f"| {lab} | {what}{ok} | {seconds:.0f} s | {full} |")
        print(rows[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(rows) + "\n")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
