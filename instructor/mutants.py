"""Mutation testing of the labs' grade cells: plausible wrong answers must lose points.

A lab's mutants live in ``tests/mutants/<lab>.py`` as ``MUTANTS = [dict(...), ...]``; each names the
solution cell it changes (``cell``: its ``grade_id``) and how (``replace``: ``(old, new)`` pairs of
substrings that must occur in the solution, or ``source``: the whole new cell).

``MUTANTS`` is also the course's catalogue of mistakes (:mod:`instructor.grading.diagnose`): every entry
has a ``hint`` written for students (what the code does and the rule it breaks, never the solution
line), may name the entries of its exercise it cannot be told apart from (``equivalent``), and may be
``diagnosis_only`` (a mistake worth naming that need not lose points). Two more lists measure the
diagnosis and are never part of the catalogue: ``UNCATALOGUED``, wrong answers that must lose points and
must not be named as a catalogued mistake, and ``CORRECT``, alternative right answers that must keep
full marks and get no diagnosis.

How a lab is run: as one notebook, in one grading-sandbox kernel forked from the lab's zygote (as a
submission's kernel is: ``NBGRADER_EXECUTION`` set, quick mode, an empty working folder), so a lab with
many mutants costs one start and no framework import (:func:`run_lab`):

1. the cells before the first exercise;
2. for exercise *k* (solution cell *k* up to its last grade cell), every mutant of *k* in turn: the
   mutated solution cell, then the exercise's helper and grade cells (hidden tests included), then the
   grader's probe for the exercise (:mod:`instructor.grading.probes`); each grade cell is scored by
   nbgrader's own ``determine_grade`` after the course's ``IgnorePattern``, and the probe's data is judged
   against the solution's reference, as for a real submission (:mod:`instructor.grading.checks`):
   ``probe_score``;
3. the real solution of *k*, its grade cells, its probe and everything up to the next exercise
   (experiments included; the experiments after the last exercise are never run), so each mutant sees a
   correct notebook around it. The real solution must score full marks there, in its grade cells and in
   the probe: that is the baseline a mutant is compared with.

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


ROLES = {"MUTANTS": "mistake", "UNCATALOGUED": "uncatalogued", "CORRECT": "correct"}
KEYS = {"name", "cell", "replace", "source", "hint", "equivalent", "diagnosis_only"}


@dataclass
class Mutant:
    lab: str
    name: str
    cell: str
    replace: list = field(default_factory=list)
    source: str | None = None
    hint: str = ""                 # for students: what the code does, and the rule (catalogue entries)
    equivalent: tuple = ()         # names of entries of the same exercise that behave the same on the probes
    diagnosis_only: bool = False   # named by the diagnosis, but not required to lose points
    role: str = "mistake"          # "mistake" (MUTANTS) | "uncatalogued" | "correct"

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
    doc: dict | None = None           # the probe's data for the exercise (what the diagnosis compares)

    @property
    def caught(self) -> bool:
        return (self.score if self.probe_score is None else self.probe_score) < self.max_score


def mutant_labs() -> list[str]:
    return sorted(p.stem for p in MUTANT_DIR.glob("*.py") if not p.stem.startswith("_"))


def load_library(lab: str) -> list[Mutant]:
    """Every entry of ``tests/mutants/<lab>.py``: the catalogue (``MUTANTS``), then ``UNCATALOGUED`` and
    ``CORRECT`` (see the module docstring); raises ValueError naming the file on a malformed entry."""
    path = MUTANT_DIR / f"{lab}.py"
    spec = importlib.util.spec_from_file_location(f"course_mutants_{lab}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entries = []
    for variable, role in ROLES.items():
        for entry in getattr(module, variable, []):
            unknown = set(entry) - KEYS
            if unknown or ("replace" in entry) == ("source" in entry):
                raise ValueError(f"{path}: {variable} entry {entry.get('name')!r} needs name, cell and exactly one "
                                 f"of replace/source (unknown keys: {sorted(unknown)})")
            if role != "mistake" and {"hint", "equivalent", "diagnosis_only"} & set(entry):
                raise ValueError(f"{path}: {variable} entry {entry['name']!r}: only catalogued mistakes (MUTANTS) "
                                 "have a hint, equivalents or diagnosis_only")
            entries.append(Mutant(lab=lab, **{**entry, "equivalent": tuple(entry.get("equivalent", ()))}, role=role))
    names = [(m.cell, m.name) for m in entries]
    if len(names) != len(set(names)):
        raise ValueError(f"{path}: duplicate entry names within one exercise")
    known = {(m.cell, m.name) for m in entries if m.role == "mistake"}
    for m in entries:
        missing = [n for n in m.equivalent if (m.cell, n) not in known]
        if missing:
            raise ValueError(f"{path}: {m.name!r} names equivalents that are not mistakes of {m.cell}: {missing}")
    return entries


def load_mutants(lab: str) -> list[Mutant]:
    """The catalogue of ``lab``: its plausible wrong answers (``MUTANTS``)."""
    return [m for m in load_library(lab) if m.role == "mistake"]


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercises(nb) -> dict[str, tuple[int, int, int]]:
    """grade_id of each solution cell -> (its index, index of its last grade cell, end of its block)
    (:class:`instructor.lab.LabNotebook`); an exercise without a grade cell is an authoring error."""
    from .lab import LabNotebook

    out = {}
    for e in LabNotebook(nb).exercises.values():
        if e.last_grade < 0:
            raise ValueError(f"solution cell {e.solution_id!r} has no grade cell after it")
        out[e.solution_id] = (e.index, e.last_grade, e.end)
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


class Checks:
    """The grader's probe of a lab, judged against the solution's data (computed in the grading sandbox,
    as for a class, or found in ``cache``)."""

    def __init__(self, lab: str, nb, cache=None):
        """``cache``: the folder of the lab's reference (and catalogue) data; by default one in the
        system's temporary folder. A course folder's ``.grading-cache/<lab>-<digest>`` shares a class's."""
        import secrets
        import tempfile
        from pathlib import Path

        from .grading import probes, run
        from .grading.dispatch import default_threads
        from .grading.types import Limits
        from .sandbox_kernel import bwrap_works

        self.probe = probes.build(lab, nb)
        self.cache = cache = Path(cache or Path(tempfile.gettempdir()) / "course-mutant-references")
        # a serial grader's limits: its kernels, and so its zygote (one per framework and thread), are shared
        self.limits = Limits(isolate=bwrap_works() is not None, threads=default_threads(1))
        self.reference = run.reference(lab, nb, self.probe, self.limits, cache)
        self.warm = run.warm_for(run.warm_of(nb), self.reference)
        self.offset = int(sorted(self.reference["runs"])[0])
        self.nonce = secrets.token_hex(8)
        self.cells = self.probe.cell_sources([self.offset], self.nonce)

    def judge(self, cell, phase: int) -> tuple[float, dict]:
        """(points of exercise ``phase`` the grader gives, the probe's data) from an executed probe cell."""
        from .grading import checks

        doc, _ = checks.read_cells([cell], self.nonce)
        grade_ids = set(self.probe.phase_grades(phase))
        verdicts = checks.judge(self.probe, doc, self.reference, self.offset)
        return sum(v.points for v in verdicts if v.grade_id in grade_ids), doc


def _plan_lab(nb, mutants: list[Mutant], checks: Checks) -> tuple[list, list]:
    """The one notebook a lab's library runs as, and what each of its cells is: (cells, [(who, kind, i)]),
    ``who`` a mutant's index or None (the solution), ``kind`` "grade" (cell i of the source), "probe" (of
    exercise i) or "" (anything else)."""
    blocks = exercises(nb)
    cells, roles, position = [], [], 0

    def add(cell, who=None, kind="", i=0, source=None):
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(cell.source if source is None else source,
                                                   metadata=dict(cell.metadata)))
            roles.append((who, kind, i))

    for n, (exercise, (start, last_grade, end)) in enumerate(blocks.items()):
        if n == len(blocks) - 1:
            end = last_grade + 1  # after the last exercise come only experiments: nothing a mutant needs
        for i in range(position, start):
            add(nb.cells[i])
        probe = nbformat.v4.new_code_cell(checks.cells[n])
        for who, mutant in enumerate(mutants):
            if mutant.cell != exercise:
                continue
            add(nb.cells[start], who, source=mutant.apply(nb.cells[start].source))
            for i in range(start + 1, last_grade + 1):
                add(nb.cells[i], who, "grade" if meta(nb.cells[i]).get("grade") else "", i)
            add(probe, who, "probe", n)
        # the real solution, its tests (the baseline), its probe, and what follows up to the next exercise
        for i in range(start, end):
            add(nb.cells[i], None, "grade" if meta(nb.cells[i]).get("grade") and i <= last_grade else "", i)
        add(probe, None, "probe", n)
        position = end
    return cells, roles


def run_lab(lab: str, mutants: list[Mutant] | None = None, checks: Checks | None = None) -> list[Result]:
    """Grade every mutant of ``lab`` through its grade cells and through the grader's probe, all in one
    notebook run in the grading sandbox (a kernel forked from the lab's zygote, as a submission's is);
    raises if the real solution loses points in either."""
    import dataclasses
    import tempfile
    from pathlib import Path

    from .grading.run import execute

    mutants = load_mutants(lab) if mutants is None else mutants
    nb = nbformat.read(source_notebook(lab), as_version=4)
    checks = checks or Checks(lab, nb)
    blocks = exercises(nb)
    unknown = {m.cell for m in mutants} - set(blocks)
    if unknown:
        raise ValueError(f"{lab}: mutants name cells that are not solution cells: {sorted(unknown)}")
    cells, roles = _plan_lab(nb, mutants, checks)
    run_nb = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    limits = dataclasses.replace(checks.limits, notebook_seconds=checks.limits.notebook_seconds + 60 * len(mutants))
    with tempfile.TemporaryDirectory(prefix=f"course-mutants-{lab}-") as tmp:
        died, out_of_time, _ = execute(run_nb, limits, Path(tmp), checks.warm)
    if died is not None or out_of_time:
        raise AssertionError(f"{lab}: the mutants' run stopped at cell {died} (time limit: {out_of_time})")
    pattern, names = ignore_pattern(), list(blocks)
    tally: dict = {}  # who -> [got, top, failing, probe score, doc]
    for cell, (who, kind, i) in zip(run_nb.cells, roles):
        mine = tally.setdefault(who, [0.0, 0.0, [], None, None])
        if kind == "grade":
            got, top = score(cell, pattern)
            mine[0], mine[1] = mine[0] + got, mine[1] + top
            if got < top:
                mine[2].append(meta(cell)["grade_id"])
                if who is None:
                    errors = [o.get("evalue", o.get("text", "")) for o in cell.outputs
                              if o.output_type in ("error", "stream")]
                    raise AssertionError(f"{lab}: the solution loses points in {meta(cell)['grade_id']}: {errors}")
        elif kind == "probe":
            graded, doc = checks.judge(cell, i)
            if who is None:
                start, last_grade, _ = blocks[names[i]]
                full = sum(float(meta(nb.cells[j]).get("points") or 0) for j in range(start + 1, last_grade + 1)
                           if meta(nb.cells[j]).get("grade"))
                if graded != full:
                    raise AssertionError(f"{lab}: the grader's checks give the solution of {names[i]} {graded:g}/"
                                         f"{full:g} where the notebook's tests give full marks")
            else:
                mine[3], mine[4] = graded, doc
    order = {name: n for n, name in enumerate(names)}  # exercise by exercise, as the library lists them
    return sorted((Result(m, m.cell, *tally[who]) for who, m in enumerate(mutants) if who in tally),
                  key=lambda r: order[r.exercise])


@dataclass
class Quality:
    """How well the diagnosis names the library's entries when each is handed in as an answer."""
    lab: str
    results: list            # [Result] of every entry (catalogue, uncatalogued, correct)
    named: dict              # (cell, name) -> the mistakes diagnosed ([]: none matched; None: lost no points)
    problems: list           # the catalogue's (mistakes left out of it, and why)
    seconds: float           # computing the catalogue

    def _equivalent(self, a: Mutant, name: str) -> bool:
        other = next((r.mutant for r in self.results if r.mutant.name == name and r.mutant.cell == a.cell), None)
        return name == a.name or name in a.equivalent or (other is not None and a.name in other.equivalent)

    def verdicts(self) -> dict:
        """(cell, entry name) -> "itself" | "equivalent" | "as <names>" | "none" | "no loss"."""
        out = {}
        for r in self.results:
            key = (r.mutant.cell, r.mutant.name)
            named = self.named[key]
            if named is None:
                out[key] = "no loss"
            elif not named:
                out[key] = "none"
            elif r.mutant.role == "mistake" and r.mutant.name in named and all(
                    self._equivalent(r.mutant, n) for n in named):
                out[key] = "itself" if named == [r.mutant.name] else "equivalent"
            else:
                out[key] = "as " + " = ".join(named)
        return out

    def counts(self) -> dict:
        v = self.verdicts()
        roles = {(r.mutant.cell, r.mutant.name): r.mutant.role for r in self.results}
        mistakes = [n for n in v if roles[n] == "mistake"]
        return {"mistakes": len(mistakes), "self": sum(v[n] in ("itself", "equivalent") for n in mistakes),
                "uncatalogued": sum(roles[n] == "uncatalogued" for n in v),
                "mislabelled": sum(roles[n] == "uncatalogued" and v[n].startswith("as ") for n in v),
                "correct": sum(roles[n] == "correct" for n in v),
                "correct_diagnosed": sum(roles[n] == "correct" and v[n].startswith("as ") for n in v)}


def diagnose_lab(lab: str, entries: list[Mutant] | None = None, cache=None) -> Quality:
    """Every entry of the library handed in as an answer (as :func:`run_lab` builds them), then diagnosed
    by the grader against the lab's catalogue (computed in the grading sandbox, as for a class, or found
    in ``cache``: see :class:`Checks`)."""
    import time as _time

    from .grading import checks as judging, diagnose
    from .grading.types import Limits
    from .sandbox_kernel import bwrap_works

    entries = load_library(lab) if entries is None else entries
    nb = nbformat.read(source_notebook(lab), as_version=4)
    grader = Checks(lab, nb, cache)
    results = run_lab(lab, entries, grader)
    start = _time.perf_counter()
    catalogue = diagnose.catalogue(lab, nb, grader.probe, grader.reference, Limits(isolate=bwrap_works() is not None),
                                   grader.cache, [m for m in entries if m.role == "mistake"])
    seconds = _time.perf_counter() - start
    named = {}
    for r in results:
        verdicts = judging.judge(grader.probe, r.doc, grader.reference, grader.offset)
        phase = grader.probe.phase_grades(grader.probe.exercises.index(r.exercise))
        lost = [v for v in verdicts if v.grade_id in phase and not v.passed]
        found = diagnose.diagnose(grader.probe, r.doc, grader.reference, catalogue, grader.offset, lost)
        named[(r.mutant.cell, r.mutant.name)] = found[0].mistakes if found else None
    return Quality(lab, results, named, catalogue["problems"], seconds)


def quality_table(qualities: list[Quality]) -> str:
    """Per lab: the catalogue named as itself, uncatalogued answers mislabelled, correct answers diagnosed;
    then every entry not diagnosed as itself (the off-diagonal of the confusion table)."""
    lines = [f"{'lab':28s} {'mistakes':>8s} {'as itself':>9s} {'uncatalogued':>12s} {'mislabelled':>11s} "
             f"{'correct':>7s} {'diagnosed':>9s}"]
    total = dict.fromkeys(("mistakes", "self", "uncatalogued", "mislabelled", "correct", "correct_diagnosed"), 0)
    off = []
    for q in qualities:
        c = q.counts()
        total = {k: total[k] + c[k] for k in total}
        lines.append(f"{q.lab:28s} {c['mistakes']:8d} {c['self']:9d} {c['uncatalogued']:12d} {c['mislabelled']:11d} "
                     f"{c['correct']:7d} {c['correct_diagnosed']:9d}")
        roles = {(r.mutant.cell, r.mutant.name): r.mutant.role for r in q.results}
        off += [f"  {q.lab} [{roles[n]}] {n[0]}: {n[1]!r} -> {v}" for n, v in q.verdicts().items()
                if not (roles[n] == "mistake" and v == "itself") and not (roles[n] != "mistake" and v in ("none", "no loss"))]
        off += [f"  {q.lab} catalogue: {p}" for p in q.problems]
    share = total["self"] / total["mistakes"] if total["mistakes"] else 0.0
    rate = total["mislabelled"] / total["uncatalogued"] if total["uncatalogued"] else 0.0
    lines.append(f"{'all':28s} {total['mistakes']:8d} {total['self']:9d} {total['uncatalogued']:12d} "
                 f"{total['mislabelled']:11d} {total['correct']:7d} {total['correct_diagnosed']:9d}")
    lines.append(f"self-consistency {share:.1%} (itself or a declared equivalent); uncatalogued mislabelled {rate:.1%}; "
                 f"correct answers diagnosed {total['correct_diagnosed']}")
    return "\n".join(lines + off)


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
