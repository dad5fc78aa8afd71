"""Hostile classrooms: tampered, broken and renamed submissions built from each lab's own notebooks.

For every case the grading run completes, the student has a CSV row and a feedback file, the score is
what the work earned and the report line says what happened. A correct answer with tampering code
added is graded on its merit (verdicts are formed outside the kernel, so the tampering changes nothing
it can gain from) and its tampering is reported for review; tests/test_trust.py holds wrong answers
with tricks. Static cases (unreadable files, tampering) and structural cases run against every lab; the cases that exercise the
sandbox's runtime limits (infinite loop, kernel death, segfault, memory) run against one lab per
framework, since they test the grading machinery rather than a lab's content.
"""
import re

import pytest

from classroom import RUNAWAY_LIMITS, UNREADABLE, Lab, build_class, dump, grade, report_line, tampering
from instructor.notebooks import labs
from instructor.grading import Status

LABS = labs()
RUNTIME_LABS = [lab for lab in ("pt01_batchnorm", "tf01_batchnorm") if lab in LABS]
BY_LAB = [pytest.param(lab, marks=pytest.mark.xdist_group(lab)) for lab in LABS]


def noted(outcome, code: str, names: str) -> bool:
    """Whether ``outcome`` has a note with ``code`` that names ``names`` (a cell id, a file name)."""
    return any(n.code == code and names in n for n in outcome.notes)


def in_report(outcome, report: str) -> None:
    """The summary's line for the submission holds its status and every one of its notes (a graded
    submission without notes has no line)."""
    if outcome.status is Status.GRADED and not outcome.notes:
        assert not [ln for ln in report.splitlines() if ln.strip().startswith(f"{outcome.lab} {outcome.student}:")]
        return
    line = report_line(report, outcome.lab, outcome.student)
    assert str(outcome.status).upper() in line and all(str(n) in line for n in outcome.notes), (line, outcome.notes)


# ----------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("lab_id", BY_LAB)
def test_unreadable_submissions_earn_zero_and_tampering_is_graded_and_reported(lab_id, graded_class):
    graded = graded_class(lab_id)
    lab, root, scores, outcomes, report = graded.lab, graded.root, graded.scores, graded.outcomes, graded.report
    for name in UNREADABLE:
        assert outcomes[name].status is Status.UNREADABLE and scores[name] == 0, report
        assert "UNREADABLE - unreadable" in report_line(report, lab_id, name)
    it = outcomes["tampering"]  # every kind of TAMPERING in one answer (tests/test_trust.py: each on its own)
    assert it.status is Status.GRADED and scores["tampering"] <= lab.full, report
    assert scores["tampering"] >= lab.full - lab.last_exercise_points, report  # the rest of the work still counts
    reviewed = {int(m[1]) for n in it.notes if n.code == "review"
                for m in [re.search(rf"cell {re.escape(lab.solutions[-1])}, line (\d+):", n)] if m}
    for name, (first, last) in tampering(lab)[1].items():
        if not name.startswith("read-"):  # reading grader files fails in the sandbox: nothing to review
            assert reviewed & set(range(first, last + 1)), f"{name} (lines {first}-{last}) not reviewed: {it.notes}"
    in_report(it, report)
    assert f"unreadable: {len(UNREADABLE)}" in report.splitlines()[0]


@pytest.mark.parametrize("lab_id", BY_LAB)
def test_messy_and_incomplete_submissions_are_graded_on_their_merit(lab_id, graded_class):
    graded = graded_class(lab_id)
    lab, root, scores, outcomes, report = graded.lab, graded.root, graded.scores, graded.outcomes, graded.report

    messy = outcomes["messy"]
    assert scores["messy"] == lab.full, report
    assert messy.status is Status.GRADED, report
    for code, names in (("renamed", f"Copy of {lab_id}.ipynb"), ("format-repaired", ""), ("locked-restored", ""),
                        ("type-restored", "setup"), ("duplicated-cells", lab.solutions[0])):
        assert noted(messy, code, names), f"no {code!r} note naming {names!r}: {messy.notes}"
    in_report(messy, report)
    autograded = root / "autograded" / "messy" / lab_id / f"{lab_id}.ipynb"
    text = autograded.read_text()
    assert "hidden-bytes 0 hidden-entries 0" in text, "the sandbox let student code read the gradebook or source/"
    assert autograded.stat().st_size < 1_000_000, "megabytes of output were kept"

    assert scores["deleted-solution"] == lab.full - lab.last_exercise_points, report
    assert noted(outcomes["deleted-solution"], "answer-deleted", lab.solutions[-1]), outcomes["deleted-solution"]
    in_report(outcomes["deleted-solution"], report)


@pytest.mark.parametrize("lab_id", [pytest.param(lab, marks=pytest.mark.xdist_group(lab)) for lab in RUNTIME_LABS])
def test_runaway_code_is_stopped_and_the_rest_is_graded(lab_id, tmp_path):
    lab = Lab(lab_id)
    last = lab.solutions[-1]
    earned_without_last = lab.full - lab.last_exercise_points
    cases = {  # student: (notebook, status, score, the note's code)
        "infinite-loop": (lab.with_last_solution(prefix="while True:\n    pass\n"), Status.TIMED_OUT,
                          earned_without_last, "cell-time-limit"),
        "kernel-exit": (lab.with_last_solution(prefix="import os\nos._exit(1)\n"), Status.CRASHED,
                        earned_without_last, "kernel-died"),
        "segfault": (lab.with_last_solution(prefix="import faulthandler\nfaulthandler._sigsegv()\n"), Status.CRASHED,
                     earned_without_last, "kernel-died"),
        "memory-blowup": (lab.with_last_solution(prefix="import numpy\nblob = [numpy.empty(2**30) for _ in range(64)]\n"),
                          Status.GRADED, earned_without_last, "memory-limit"),
    }
    root = build_class(tmp_path, lab_id, {s: (f"{lab_id}.ipynb", dump(nb)) for s, (nb, *_) in cases.items()})
    scores, outcomes, report = grade(root, lab_id, limits=RUNAWAY_LIMITS)
    for student, (_, status, score, code) in cases.items():
        assert outcomes[student].status is status, report
        assert scores[student] == score, report
        assert noted(outcomes[student], code, last), outcomes[student]
        in_report(outcomes[student], report)
    assert (root / "quarantine" / "kernel-exit" / lab_id / f"{lab_id}.ipynb").exists(), "the original must be kept"
