"""Grading throughput on this machine: plain nbgrader vs the course's grader at 1 and 2 workers.

    python benchmarks/grading.py [--lab pt01_batchnorm] [--students 8]   (or: make bench-grading)

Builds a synthetic class of N submissions of one lab, half of them with a wrong exercise — cycling
through correct, a catalogued mistake, partial (first exercise only), another catalogued mistake; the
last two kill their kernel (``os._exit``) and loop forever — and grades copies of it (1) with
``nbgrader autograde`` in one process (no protections, the baseline), (2) with ``grade_class``
serially, without and with the diagnosis (tests/mutants/ as the catalogue of mistakes), and (3) with
``grade_class`` on a 2-worker Dask LocalCluster; plain nbgrader once more on the honest submissions alone.
Prints wall time, submissions per minute, the 1 -> 2 worker scaling, one honest submission's run stage
(core-seconds: its kernel's wall time at 2 workers, one CPU thread each) against plain nbgrader's per
honest submission, a projection for 1,000 submissions on 32 cores, and what the diagnosis adds (its
catalogue, computed once per lab, and the comparisons per submission). Numbers only: nothing is asserted.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nbformat  # noqa: E402

from instructor import mutants, pipeline  # noqa: E402
from instructor.grading import Limits  # noqa: E402
from instructor.notebooks import ROOT, dumps  # noqa: E402


def build(root: Path, lab: str, n: int) -> Path:
    """A class of ``n`` submissions cycling through correct / partial / untouched, plus a crash and a loop."""
    shutil.copytree(ROOT / "source" / lab, root / "source" / lab)
    pipeline.release(root, [lab])
    source = nbformat.read(root / "source" / lab / f"{lab}.ipynb", as_version=4)
    released = nbformat.read(root / "release" / lab / f"{lab}.ipynb", as_version=4)
    catalogue = [m for m in mutants.load_mutants(lab) if not m.diagnosis_only]
    wrong = [catalogue[0], next((m for m in catalogue if m.cell != catalogue[0].cell), catalogue[-1])]

    def with_mistake(mistake):
        nb = nbformat.from_dict(source)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == mistake.cell)
        cell.source = mistake.apply(cell.source)
        return nb

    kinds = [source, with_mistake(wrong[0]), pipeline.partial_submission(source, released), with_mistake(wrong[1])]
    first = pipeline.solution_cell_ids(source)[0]
    for i in range(n):
        nb = nbformat.from_dict(kinds[i % len(kinds)])
        if i == n - 2 or i == n - 1:  # the last two: a crash and a loop in the first answer
            nb = nbformat.from_dict(source)
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") == first:
                    cell.source = "import os; os._exit(1)" if i == n - 2 else "while True:\n    pass"
        path = root / "submitted" / f"student{i:03d}" / lab / f"{lab}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(dumps(nb))
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="pt01_batchnorm")
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--cell-seconds", type=int, default=20, help="per-cell limit (the loop's cost)")
    args = parser.parse_args()
    limits = Limits(cell_seconds=args.cell_seconds, notebook_seconds=300)
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        template = build(Path(tmp) / "template", args.lab, args.students)
        results = {}
        runs = {}
        runaway = {f"student{i:03d}" for i in (args.students - 2, args.students - 1)}
        for name in ("nbgrader autograde (serial, unprotected)", "nbgrader autograde, honest submissions only",
                     "grade_class, 1 worker, no diagnosis", "grade_class, 1 worker", "grade_class, 2 workers"):
            root = Path(tmp) / name.replace(",", "").replace(" ", "_").replace("(", "").replace(")", "")
            shutil.copytree(template, root)
            if "honest" in name:
                for student in runaway:
                    shutil.rmtree(root / "submitted" / student)
            start = time.perf_counter()
            if name.startswith("nbgrader"):
                pipeline.nbgrader("autograde", args.lab, "--force", f"--Execute.timeout={args.cell_seconds}",
                                  root=root, check=False)
            else:
                runs[name] = pipeline.grade_class(root, [args.lab], progress=False, limits=limits,
                                                  workers=1 if "1 worker" in name else 2,
                                                  diagnosis="no diagnosis" not in name)
            results[name] = time.perf_counter() - start
            n = args.students - (len(runaway) if "honest" in name else 0)
            print(f"{name:44s} {results[name]:7.1f} s  {n / results[name] * 60:6.1f} submissions/min", flush=True)
        one, two = results["grade_class, 1 worker"], results["grade_class, 2 workers"]
        print(f"scaling 1 -> 2 workers: {one / two:.2f}x (linear: 2.00x, ratio to linear {one / two / 2:.2f})")
        plain = results["nbgrader autograde (serial, unprotected)"]
        print(f"per submission: nbgrader {plain / args.students:.1f} s, "
              f"course grader {one / args.students:.1f} s (1 worker), {two / args.students:.1f} s (2 workers)")
        print(f"cost ratio to plain nbgrader, same run, 1 worker each: {one / plain:.2f}")
        # one honest submission's run stage (a kernel with one CPU thread at 2 workers on 2 cores: core-seconds)
        honest = {w: sorted(sec for (_, student), sec in runs[f"grade_class, {w}"].task_seconds.items()
                            if student not in runaway) for w in ("1 worker", "2 workers")}
        core_s = statistics.median(honest["2 workers"])
        plain_honest = results["nbgrader autograde, honest submissions only"] / (args.students - len(runaway))
        print(f"honest submission, run stage: median {statistics.median(honest['1 worker']):.1f} s at 1 worker, "
              f"{core_s:.1f} core-s at 2 workers; plain nbgrader {plain_honest:.1f} s per honest submission "
              f"(ratio {core_s / plain_honest:.2f})")
        stage = {w: runs[f"grade_class, {w}"].seconds for w in ("1 worker", "2 workers")}
        print(f"run stage alone (every submission, the loop's {args.cell_seconds} s cell limit included): "
              f"{stage['1 worker']:.1f} s at 1 worker, {stage['2 workers']:.1f} s at 2 "
              f"({stage['1 worker'] / stage['2 workers'] / 2:.2f} of linear); one honest kernel next to another: "
              f"{statistics.median(honest['1 worker']) * 2 / core_s / 2:.2f} of linear; the rest of each run is "
              f"serial nbgrader work (registering the lab, feedback, export)")
        once = run.catalogue_seconds if (run := runs["grade_class, 1 worker"]) else 0.0
        print(f"projection, 1,000 honest submissions of this lab on 32 cores (one kernel per core, the run stage "
              f"only, as measured here): {1000 * core_s / 32 / 60:.1f} min, plus the lab's catalogue once "
              f"({once:.0f} s here)")
        bare, run = results["grade_class, 1 worker, no diagnosis"], runs["grade_class, 1 worker"]
        print(f"diagnosis, 1 worker: the whole run {one:.1f} s vs {bare:.1f} s without ({(one / bare - 1):+.0%}); "
              f"its catalogue {run.catalogue_seconds:.1f} s once per lab (cached), comparisons "
              f"{run.diagnosis_seconds * 1000 / args.students:.1f} ms per submission; "
              f"without the catalogue's one-time cost {((one - run.catalogue_seconds) / bare - 1):+.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
