"""Mutation testing of the labs' grade cells: plausible wrong answers must lose points.

A lab's mutants live in ``tests/mutants/<lab>.py`` as ``MUTANTS = [dict(...), ...]``; each names the
solution cell it changes (``cell``: its ``grade_id``) and how (``replace``: ``(old, new)`` pairs of
substrings that must occur in the solution, or ``source``: the whole new cell).

How a lab is run (one kernel per lab, so a lab with many mutants costs one import of its framework):

1. the kernel starts in the lab's source folder with ``NBGRADER_EXECUTION`` set, exactly as under
   ``nbgrader autograde`` (quick mode), and runs the cells before the first exercise;
2. for exercise *k* (solution cell *k* up to its last grade cell), every mutant of *k* in turn: the
   mutated solution cell, then the exercise's helper and grade cells (hidden tests included); each
   grade cell is scored by nbgrader's own ``determine_grade`` after the course's ``IgnorePattern``;
3. the real solution of *k* and everything up to the next exercise run (experiments included) before
   the mutants of *k + 1* (the experiments after the last exercise are never run), so each mutant sees a correct notebook around it. The real solution's
   grade cells must score full marks there: that is the baseline a mutant is compared with.

4. after the notebook's own grade cells, the grader's probe for the exercise runs in the same kernel
   (:mod:`instructor.grading.probes`) and its data is judged against the solution's reference, as for
   a real submission (:mod:`instructor.grading.checks`): ``probe_score``.

A mutant is *caught* when the grader's verdict (the probe's score) for its exercise is below full
marks; the notebook's own tests (what a student sees in Colab) must agree on the real solution.
"""
from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field

import nbformat

from .notebooks import ROOT, source_notebook

MUTANT_DIR = ROOT / "tests" / "mutants"


@dataclass
class Mutant:
    lab: str
    name: str
    cell: str
    replace: list = field(default_factory=list)
    source: str | None = None

    def apply(self, original: str) -> str:
        """The mutated source of the solution cell; an ``old`` that no longer occurs is an error."""
        if self.source is not None:
            return self.source
        text = original
        for old, new in self.replace:
            if old not in text:
                raise ValueError(f"{self.lab}: mutant {self.name!r}: {old!r} does not occur in cell {self.cell!r}"
                                 " (the solution changed: update the mutant)")
            text = text.replace(old, new)
        if text == original:
            raise ValueError(f"{self.lab}: mutant {self.name!r} changes nothing")
        return text


@dataclass
class Result:
    mutant: Mutant
    exercise: str
    score: float
    max_score: float
    failing: list[str]
    probe_score: float | None = None  # the grader's verdict (probe data judged against the solution's)

    @property
    def caught(self) -> bool:
        return (self.score if self.probe_score is None else self.probe_score) < self.max_score


def mutant_labs() -> list[str]:
    return sorted(p.stem for p in MUTANT_DIR.glob("*.py") if not p.stem.startswith("_"))


def load_mutants(lab: str) -> list[Mutant]:
    path = MUTANT_DIR / f"{lab}.py"
    spec = importlib.util.spec_from_file_location(f"course_mutants_{lab}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mutants = []
    for entry in module.MUTANTS:
        unknown = set(entry) - {"name", "cell", "replace", "source"}
        if unknown or ("replace" in entry) == ("source" in entry):
            raise ValueError(f"{path}: mutant {entry.get('name')!r} needs name, cell and exactly one of "
                             f"replace/source (unknown keys: {sorted(unknown)})")
        mutants.append(Mutant(lab=lab, **entry))
    names = [(m.cell, m.name) for m in mutants]
    if len(names) != len(set(names)):
        raise ValueError(f"{path}: duplicate mutant names within one exercise")
    return mutants


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercises(nb) -> dict[str, tuple[int, int, int]]:
    """grade_id of each solution cell -> (its index, index of its last grade cell, end of its block).

    The block of exercise *k* ends where exercise *k + 1* starts (or at the end of the notebook).
    """
    starts = [i for i, c in enumerate(nb.cells) if meta(c).get("solution") and c.cell_type == "code"]
    out = {}
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(nb.cells)
        grades = [i for i in range(start + 1, end) if meta(nb.cells[i]).get("grade")]
        if not grades:
            raise ValueError(f"solution cell {meta(nb.cells[start])['grade_id']!r} has no grade cell after it")
        out[meta(nb.cells[start])["grade_id"]] = (start, grades[-1], end)
    return out


def ignore_pattern() -> str:
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    return config.IgnorePattern.pattern if config.IgnorePattern.enabled else ""


def score(cell, pattern: str) -> tuple[float, float]:
    """nbgrader's score of an executed grade cell, after the course's IgnorePattern."""
    from nbgrader.utils import determine_grade

    if pattern:
        cell.outputs = [o for o in cell.outputs
                        if not (o.output_type == "stream" and o.name == "stderr" and re.search(pattern, o.text))]
    got, top = determine_grade(cell)
    return float(got or 0.0), float(top)


class LabKernel:
    """One kernel running a lab's cells as the autograder would (quick mode, lab folder as cwd)."""

    def __init__(self, lab: str, timeout: int = 300):
        from nbclient import NotebookClient

        self.lab = lab
        self.nb = nbformat.read(source_notebook(lab), as_version=4)
        self.sources = [c.source for c in self.nb.cells]  # nbclient writes executed cells back into nb
        self.client = NotebookClient(self.nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(source_notebook(lab).parent)}})
        self.env = {**os.environ, "NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "Agg"}

    def __enter__(self):
        self._context = self.client.setup_kernel(env=self.env)
        self._context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)

    def run(self, index: int, source: str | None = None):
        """Execute cell ``index`` (with ``source`` instead of its own, if given); returns the executed cell."""
        cell = nbformat.from_dict(self.nb.cells[index])
        cell.source = self.sources[index] if source is None else source
        if cell.cell_type != "code":
            return cell
        cell.outputs = []
        self.client.execute_cell(cell, index)
        return cell


class Checks:
    """The grader's probe of a lab, run in a :class:`LabKernel` and judged against the solution's data."""

    def __init__(self, lab: str, nb):
        import secrets
        import tempfile
        from pathlib import Path

        from .grading import probes, run
        from .grading.types import Limits
        from .sandbox_kernel import bwrap_works

        self.probe = probes.build(lab, nb)
        cache = Path(tempfile.gettempdir()) / "course-mutant-references"
        self.reference = run.reference(lab, nb, self.probe, Limits(isolate=bwrap_works() is not None), cache)
        self.offset = int(sorted(self.reference["runs"])[0])
        self.nonce = secrets.token_hex(8)
        self.cells = self.probe.cell_sources([self.offset], self.nonce)

    def score(self, kernel: "LabKernel", phase: int) -> float:
        from .grading import checks

        cell = nbformat.v4.new_code_cell(self.cells[phase])
        kernel.client.execute_cell(cell, len(kernel.nb.cells) - 1)
        doc, _ = checks.read_cells([cell], self.nonce)
        grade_ids = {gid for kind, gid, _ in self.probe.phases[phase] if kind == "grade"}
        verdicts = checks.judge(self.probe, doc, self.reference, self.offset)
        return sum(v.points for v in verdicts if v.grade_id in grade_ids)


def run_lab(lab: str, mutants: list[Mutant] | None = None) -> list[Result]:
    """Grade every mutant of ``lab`` through its grade cells and through the grader's probe; raises if
    the real solution loses points in either."""
    mutants = load_mutants(lab) if mutants is None else mutants
    pattern = ignore_pattern()
    checks = Checks(lab, nbformat.read(source_notebook(lab), as_version=4))
    with LabKernel(lab) as kernel:
        nb = kernel.nb
        blocks = exercises(nb)
        unknown = {m.cell for m in mutants} - set(blocks)
        if unknown:
            raise ValueError(f"{lab}: mutants name cells that are not solution cells: {sorted(unknown)}")
        results = []
        position = 0
        for n, (exercise, (start, last_grade, end)) in enumerate(blocks.items()):
            if n == len(blocks) - 1:
                end = last_grade + 1  # after the last exercise come only experiments: nothing a mutant needs
            for i in range(position, start):
                kernel.run(i)
            for mutant in (m for m in mutants if m.cell == exercise):
                mutated = mutant.apply(kernel.sources[start])
                kernel.run(start, mutated)
                got = top = 0.0
                failing = []
                for i in range(start + 1, last_grade + 1):
                    cell = kernel.run(i)
                    if meta(cell).get("grade"):
                        s, t = score(cell, pattern)
                        got, top = got + s, top + t
                        if s < t:
                            failing.append(meta(cell)["grade_id"])
                results.append(Result(mutant, exercise, got, top, failing, checks.score(kernel, n)))
            # the real solution, its tests (the baseline) and what follows up to the next exercise
            kernel.run(start)
            for i in range(start + 1, end):
                cell = kernel.run(i)
                if meta(cell).get("grade"):
                    s, t = score(cell, pattern)
                    if s < t:
                        errors = [o.get("evalue", o.get("text", "")) for o in cell.outputs
                                  if o.output_type in ("error", "stream")]
                        raise AssertionError(f"{lab}: the solution loses points in {meta(cell)['grade_id']}: {errors}")
            full = sum(float(meta(nb.cells[i]).get("points") or 0) for i in range(start + 1, last_grade + 1)
                       if meta(nb.cells[i]).get("grade"))
            graded = checks.score(kernel, n)
            if graded != full:
                raise AssertionError(f"{lab}: the grader's checks give the solution of {exercise} {graded:g}/{full:g} "
                                     "where the notebook's tests give full marks")
            position = end
    return results


def table(results_by_lab: dict[str, list[Result]]) -> str:
    """Per lab: exercises, mutants, mutants caught; then every mutant that survived."""
    lines = [f"{'lab':28s} {'exercises':>9s} {'mutants':>8s} {'caught':>7s}"]
    survivors = []
    for lab, results in results_by_lab.items():
        exercises_hit = len({r.exercise for r in results})
        caught = sum(r.caught for r in results)
        lines.append(f"{lab:28s} {exercises_hit:9d} {len(results):8d} {caught:7d}")
        survivors += [f"  SURVIVED {lab}/{r.exercise}: {r.mutant.name} (grader {r.probe_score}, notebook tests "
                      f"{r.score:g}/{r.max_score:g})" for r in results if not r.caught]
        disagree = [r for r in results if r.probe_score is not None and (r.probe_score < r.max_score) != (r.score < r.max_score)]
        survivors += [f"  note {lab}/{r.exercise}: {r.mutant.name}: grader {r.probe_score:g}, notebook tests {r.score:g} "
                      f"of {r.max_score:g}" for r in disagree]
    return "\n".join(lines + survivors)
