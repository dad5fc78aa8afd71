"""Stage 3b, diagnose: an exercise that lost points, named as a catalogued mistake by its behaviour.

The course's mutant library (``tests/mutants/<lab>.py``, :mod:`instructor.mutants`) is its catalogue of
plausible wrong answers, each with a hint written for students. Diagnosis reuses the grader's probes
(:mod:`instructor.grading.probes`): they already record, for every check of every grade cell, the values
the student's code produced on the grader's inputs (seeds shifted per submission, hidden tests
included, none of it shown to the student).

* :func:`catalogue` (once per lab, cached beside the solution's reference): every mistake is handed in
  as a student would hand it in (the solution notebook with that one cell changed, hidden tests
  removed), run in the grading sandbox, and its probe data recorded at every reference seed offset.
* :func:`diagnose` (per submission, in the grader's process, no student code): for each exercise that
  lost points, the student's records are compared with each mistake's, check by check, at the seed
  offset the submission was graded with. A mistake *matches* when every check of the exercise agrees:
  either the check accepts both, or every value it looked at is the same within ``RTOL``/``ATOL``/
  ``SCALE`` (shapes, dtypes, types and exception names exactly). So the student's code fails the checks
  the mistake fails, with the mistake's values. No match is reported as none, never as a nearest guess. Several matches are reported
  together: the mistakes then behave the same on the grader's inputs.

Feedback carries the catalogue's hint, never a check's code or a hidden value.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from .checks import Array, Opaque, ProbeDataError, close, decode, evaluate, judge_cell, read_payload
from .probes import HIDDEN_BEGIN, HIDDEN_END, Probe

# agreement of two implementations of the same mistake (float32 rounding, op order, thread counts):
# |a - b| <= RTOL |b| + ATOL + SCALE max|b|, the last for entries near zero in a large array (a gradient)
RTOL, ATOL, SCALE = 1e-4, 1e-6, 1e-5
SECONDS = 5.0             # diagnosis time per submission, in the grader's process
TOLERANCE = f"values within rtol {RTOL:g}, atol {ATOL:g} + {SCALE:g} x the largest magnitude"


@dataclass
class Diagnosis:
    """One exercise that lost points: the catalogued mistakes its code behaves like (none: ``[]``)."""
    exercise: str
    mistakes: list = field(default_factory=list)   # names, catalogue order; the first is the diagnosis
    hints: list = field(default_factory=list)
    checks: int = 0          # checks compared with the matching mistake
    note: str = ""           # why nothing could be compared (time limit, hooks), else ""

    def text(self) -> str:
        """What the student reads under the exercise."""
        if self.note:
            return f"autograder diagnosis: {self.note}\n"
        if not self.mistakes:
            return ("autograder diagnosis: no known mistake matched this exercise's results; compare your code "
                    "with the rule the exercise states.\n")
        if len(self.hints) == 1:
            return f"autograder diagnosis: your code behaves like a known mistake. {self.hints[0]}\n"
        listed = "\n".join(f"  - {hint}" for hint in self.hints[:3])
        return ("autograder diagnosis: your code behaves like each of these known mistakes (they give the same "
                f"results on the autograder's inputs):\n{listed}\n")


# ------------------------------------------------------------------ comparing two records of one check

def same(a, b) -> bool:
    """Two recorded values agree: same kind, shape and dtype, numbers within RTOL/ATOL."""
    if isinstance(a, Opaque) or isinstance(b, Opaque):
        return isinstance(a, Opaque) and isinstance(b, Opaque) and (a.kind, a.name) == (b.kind, b.name)
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, Array) or isinstance(b, Array):
        if not (isinstance(a, Array) and isinstance(b, Array)) or a.dtype != b.dtype or a.value.shape != b.value.shape:
            return False
        return _numbers(a.value, b.value)
    if isinstance(a, frozenset) or isinstance(b, frozenset):
        return isinstance(a, frozenset) and isinstance(b, frozenset) and a == b
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and all(map(same, a, b))
    if type(a) is bool or type(b) is bool or isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return _numbers(np.asarray(a), np.asarray(b))
    return False


def _numbers(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        return bool(np.array_equal(a, b))
    try:
        with np.errstate(all="ignore"):
            finite = np.abs(b[np.isfinite(b)]) if np.ndim(b) else np.abs(b) if np.isfinite(b) else 0.0
            scale = float(np.max(finite)) if np.size(finite) else 0.0
        return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL + SCALE * scale, equal_nan=True))
    except (TypeError, ValueError):
        return False


def _passes(probe: Probe, event: list, ref: list | None) -> bool | None:
    """Whether one recorded check passes (None: it cannot be judged from what was recorded)."""
    site = probe.sites.get(event[1])
    if site is None:
        return None
    if event[0] == "assert":
        return evaluate(site.tree, [decode(v) for v in event[2]])
    if ref is None or ref[:2] != event[:2]:
        return None
    return close(site.kind, decode(event[2]), decode(ref[3]), {k: decode(v) for k, v in ref[4].items()})[0]


ADDRESS = 2 ** 40  # an int this large is a memory address or an id (data_ptr(), id()): it differs per run


def _comparable(v):
    return None if type(v) is int and abs(v) >= ADDRESS else v


def _nodes(tree, leaves: list) -> list[bool]:
    """The truth of every comparison and predicate in an assert (an address's relations are kept here)."""
    kind = tree[0]
    if kind in ("and", "or"):
        return [t for sub in tree[1] for t in _nodes(sub, leaves)]
    if kind == "not":
        return _nodes(tree[1], leaves)
    if kind in ("cmp", "pred"):
        return [evaluate(tree, leaves)]
    return []


def _values(probe: Probe, event: list) -> list:
    if event[0] != "assert":
        return [decode(event[2])]
    leaves = [decode(v) for v in event[2]]
    site = probe.sites.get(event[1])
    return [_comparable(v) for v in leaves] + (_nodes(site.tree, leaves) if site else [])


def cells_agree(probe: Probe, student: dict | None, mistake: dict | None, solution: dict) -> tuple[bool, int]:
    """(whether the student's record of one grade cell behaves as the mistake's, checks compared)."""
    if student is None or mistake is None:
        return student is None and mistake is None, 0
    if student.get("hooked") or mistake.get("hooked") or student.get("error") != mistake.get("error"):
        return False, 0
    s_events, m_events = student.get("events", []), mistake.get("events", [])
    r_events = solution.get("events", [])
    if len(s_events) != len(m_events):
        return False, 0
    for index, (s, m) in enumerate(zip(s_events, m_events)):
        if not (isinstance(s, list) and isinstance(m, list) and len(s) >= 3 and s[:2] == m[:2]):
            return False, index
        ref = r_events[index] if index < len(r_events) else None
        try:
            if _passes(probe, s, ref) and _passes(probe, m, ref):
                continue  # the check accepts both: their values may differ as two right answers do
            if not all(map(same, _values(probe, s), _values(probe, m))):
                return False, index  # (same values on either side of a check's threshold still agree)
        except (ProbeDataError, ValueError, TypeError):
            return False, index
    return True, len(s_events)


NOT_ATTEMPTED = "not attempted yet: your code still raises NotImplementedError"


def _unattempted(record: dict | None) -> bool:
    """The stub's ``raise NotImplementedError`` reached a check (or stopped the cell)."""
    if not isinstance(record, dict):
        return False
    if record.get("error") == "NotImplementedError":
        return True
    return any(isinstance(e, list) and len(e) >= 3 and '"raised": "NotImplementedError"' in json.dumps(e[2])
               for e in record.get("events", []))


def _cells_at(doc: dict, offset: int) -> dict:
    runs = [r for r in doc.get("runs", []) if isinstance(r, dict) and r.get("offset") == offset]
    return runs[0].get("cells", {}) if len(runs) == 1 and isinstance(runs[0].get("cells"), dict) else {}


def diagnose(probe: Probe, doc: dict, reference: dict, catalogue: dict, offset: int, verdicts: list,
             seconds: float = SECONDS) -> list[Diagnosis]:
    """A :class:`Diagnosis` for every exercise of the submission that lost points (see the module docstring)."""
    if not catalogue or not catalogue.get("mistakes"):
        return []
    lost = {v.grade_id for v in verdicts if not v.passed}
    cells, solution = _cells_at(doc, offset), reference["runs"].get(str(offset), {})
    deadline = time.monotonic() + seconds
    out = []
    for phase, exercise in enumerate(probe.exercises):
        grade_ids = probe.phase_grades(phase)
        if exercise is None or not lost & set(grade_ids):
            continue
        if doc.get("replaced") or any((cells.get(g) or {}).get("hooked") for g in grade_ids):
            out.append(Diagnosis(exercise, note="the checks could not run as written, so no mistake can be named"))
            continue
        if all(cells.get(g) is None for g in grade_ids):
            out.append(Diagnosis(exercise, note="the checks of this exercise did not run, so no mistake can be named"))
            continue
        if any(_unattempted(cells.get(g)) for g in grade_ids):
            out.append(Diagnosis(exercise, note=NOT_ATTEMPTED))
            continue
        diagnosis = Diagnosis(exercise)
        for mistake in (m for m in catalogue["mistakes"] if m["cell"] == exercise):
            if time.monotonic() > deadline:
                diagnosis = Diagnosis(exercise, note="the diagnosis ran past its time limit; no mistake is named")
                break
            theirs = mistake["runs"].get(str(offset))
            if theirs is None:
                continue
            compared, agree = 0, True
            for grade_id in grade_ids:
                ok, n = cells_agree(probe, cells.get(grade_id), theirs.get(grade_id), solution.get(grade_id, {}))
                compared += n
                if not ok:
                    agree = False
                    break
            if agree:
                diagnosis.mistakes.append(mistake["name"])
                diagnosis.hints.append(mistake["hint"])
                diagnosis.checks = max(diagnosis.checks, compared)
        out.append(diagnosis)
    return out


# ------------------------------------------------------------------ the catalogue's data, once per lab

def without_hidden_tests(source_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution as a student would hand it in: grade cells without their hidden tests (as released)."""
    nb = nbformat.from_dict(source_nb)
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        kept, inside = [], False
        for line in cell.source.split("\n"):
            if HIDDEN_BEGIN in line:
                inside = True
            elif HIDDEN_END in line:
                inside = False
            elif not inside:
                kept.append(line)
        cell.source = "\n".join(kept)
    return nb


def _digest(probe: Probe, mistakes: list, offsets: list) -> str:
    entries = [[m.name, m.cell, m.replace, m.source, m.hint] for m in mistakes]
    return hashlib.sha256(json.dumps([probe.digest, entries, offsets], default=str).encode()).hexdigest()[:16]


def _copy(cell, source: str | None = None) -> nbformat.NotebookNode:
    """A copy with a fresh cell id (the catalogue notebook repeats cells)."""
    make = nbformat.v4.new_code_cell if cell.cell_type == "code" else nbformat.v4.new_markdown_cell
    return make(cell.source if source is None else source, metadata=dict(cell.metadata))


def _plan(nb: nbformat.NotebookNode, probe: Probe, mistakes: list, offsets: list, nonce: str):
    """The catalogue notebook: (cells, {mistake index: index of the probe cell holding its exercise's data}).

    As the mutant runner does (:func:`instructor.mutants.run_lab`), exercise by exercise: the solution
    runs up to exercise *k*; each mistake of *k* then runs its changed cell *k*, the cells that follow it
    up to *k*'s last test (a submission with that mistake runs them too), and the probe's phase for *k*;
    then the real cell *k* and the rest of *k*'s block run before the next exercise. So every mistake
    sees the solution around it, and a lab costs one pass plus each mistake's own block.
    """
    from ..mutants import exercises

    blocks = exercises(nb)
    phase_of = {exercise: n for n, exercise in enumerate(probe.exercises)}
    sources = probe.cell_sources(offsets, nonce)
    cells, where, position = [], {}, 0

    def copies(lo, hi):
        return [_copy(c) for c in nb.cells[lo:hi] if c.cell_type in ("code", "markdown")]

    for exercise, (start, last_grade, end) in blocks.items():
        mine = [(i, m) for i, m in enumerate(mistakes) if m.cell == exercise and exercise in phase_of]
        if not mine:
            continue
        cells += copies(position, start)
        for i, m in mine:
            cells += [_copy(nb.cells[start], m.apply(nb.cells[start].source))] + copies(start + 1, last_grade + 1)
            cells.append(nbformat.v4.new_code_cell(sources[phase_of[exercise]]))
            where[i] = len(cells) - 1
        cells += copies(start, end)
        position = end
    return cells, where


def _applicable(nb: nbformat.NotebookNode, mistakes: list) -> tuple[list, list[str]]:
    """(the mistakes that apply to the solution's cells, a problem line for each that does not)."""
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    usable, problems = [], []
    for m in mistakes:
        try:
            m.apply(nb.cells[ids.index(m.cell)].source)
            usable.append(m)
        except ValueError as err:
            problems.append(f"{m.name}: {str(err)[:200]}")
    return usable, problems


def _entry(m, probe: Probe, reference: dict, outputs: list, nonce: str) -> tuple[dict | None, str]:
    """One mistake's catalogue entry from its probe cell's outputs, or (None, why it is left out)."""
    try:
        doc = read_payload(outputs, nonce)
    except ProbeDataError as err:
        return None, f"{m.name}: no probe data ({err})"
    grade_ids = probe.phase_grades(probe.exercises.index(m.cell))
    runs = {str(r["offset"]): {g: r["cells"].get(g) for g in grade_ids}
            for r in doc.get("runs", []) if str(r.get("offset")) in reference["runs"]}
    if all(judge_cell(probe, g, rec, reference["runs"][o][g])[0] for o, cells in runs.items()
           for g, rec in cells.items()):
        return None, f"{m.name}: behaves as the solution on every check (it cannot be told from a right answer)"
    return {"name": m.name, "cell": m.cell, "hint": m.hint, "equivalent": list(m.equivalent), "runs": runs}, ""


def catalogue(lab: str, source_nb: nbformat.NotebookNode, probe: Probe, reference: dict, limits, cache: Path,
              mistakes: list | None = None) -> dict:
    """Every catalogued mistake's probe data at the reference's seed offsets, computed in the grading
    sandbox once per lab and cached in ``cache`` under the probe's, the catalogue's and the offsets' digest.

    Returns ``{"mistakes": [{name, cell, hint, equivalent, runs: {offset: {grade_id: record}}}], "problems": [...]}``.
    A mistake that no longer applies to the solution, that behaves as the solution on every check, or
    whose run stopped is left out and named in ``problems`` (the grading summary shows them).
    """
    import dataclasses

    from ..mutants import load_mutants
    from .record import cached_json, store_json
    from .run import execute, graded_part, warm_for, warm_of

    mistakes = load_mutants(lab) if mistakes is None else mistakes
    offsets = sorted(int(o) for o in reference["runs"])
    path = cache / f"mistakes-{_digest(probe, mistakes, offsets)}.json"
    cached = cached_json(path)
    if cached is not None:
        return cached
    nb, _ = graded_part(without_hidden_tests(source_nb))
    usable, problems = _applicable(nb, mistakes)
    nonce = secrets.token_hex(16)
    cells, where = _plan(nb, probe, usable, offsets, nonce)
    run_nb = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    budget = dataclasses.replace(limits, notebook_seconds=limits.notebook_seconds + 60 * len(usable))
    start = time.perf_counter()
    warm = warm_for(warm_of(source_nb), reference)  # the submissions' zygote: one start per thread, not two
    with tempfile.TemporaryDirectory(prefix=f"course-catalogue-{lab}-") as tmp:
        died, out_of_time, _ = execute(run_nb, budget, Path(tmp), warm) if cells else (None, False, [])
    entries = []
    for index, m in enumerate(usable):
        if index not in where:
            problems.append(f"{m.name}: its exercise {m.cell!r} has no checks")
            continue
        entry, why = _entry(m, probe, reference, run_nb.cells[where[index]].get("outputs", []), nonce)
        if entry is None:
            problems.append(why)
        else:
            entries.append(entry)
    if died is not None or out_of_time:
        problems.append("the catalogue's run stopped early (" + ("the kernel died" if died is not None else
                                                                 "time limit") + "); later mistakes are left out")
    result = {"mistakes": entries, "problems": problems, "seconds": round(time.perf_counter() - start, 1)}
    store_json(path, result)
    return result


def as_rows(diagnoses: list[Diagnosis]) -> list[dict]:
    """Diagnoses as plain dicts (for Dask, the state file and the CSV)."""
    return [asdict(d) for d in diagnoses]
