"""Hostile classrooms: tampered, broken and renamed submissions built from each lab's own notebooks.

For every case the grading run completes, the student has a CSV row and a feedback file, the score is
what the work earned and the report line says what happened. A correct answer with tampering code
added is graded on its merit (verdicts are formed outside the kernel, so the tampering changes nothing
it can gain from) and its tampering is reported for review; tests/test_trust.py holds wrong answers
with tricks. Static cases (unreadable files, tampering) and structural cases run against every lab; the cases that exercise the
sandbox's runtime limits (infinite loop, kernel death, segfault, memory) run against one lab per
framework, since they test the grading machinery rather than a lab's content.
"""
import pytest

from classroom import TAMPERING, UNREADABLE, Lab, build_class, dump, grade, report_line
from instructor.notebooks import labs
from instructor.grading import Status

LABS = labs()
RUNTIME_LABS = [lab for lab in ("pt01_batchnorm", "tf01_batchnorm") if lab in LABS]
BY_LAB = [pytest.param(lab, marks=pytest.mark.xdist_group(lab)) for lab in LABS]


# ----------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("lab_id", BY_LAB)
def test_unreadable_submissions_earn_zero_and_tampering_is_graded_and_reported(lab_id, graded_class):
    graded = graded_class(lab_id)
    lab, root, scores, outcomes, report = graded.lab, graded.root, graded.scores, graded.outcomes, graded.report
    for name in UNREADABLE:
        assert outcomes[name].status is Status.UNREADABLE and scores[name] == 0, report
        assert "UNREADABLE - unreadable" in report_line(report, lab_id, name)
    for name in TAMPERING:
        assert outcomes[name].status is Status.GRADED and scores[name] <= lab.full, report
        assert scores[name] >= lab.full - lab.last_exercise_points, report  # the rest of the work still counts
        if not name.startswith("read-"):  # reading grader files fails in the sandbox: nothing to review
            line = report_line(report, lab_id, name)
            assert f"for review: cell {lab.solutions[-1]}" in line, line
    assert f"unreadable: {len(UNREADABLE)}" in report.splitlines()[0]


@pytest.mark.parametrize("lab_id", BY_LAB)
def test_messy_and_incomplete_submissions_are_graded_on_their_merit(lab_id, graded_class):
    graded = graded_class(lab_id)
    lab, root, scores, outcomes, report = graded.lab, graded.root, graded.scores, graded.outcomes, graded.report

    messy = report_line(report, lab_id, "messy")
    assert scores["messy"] == lab.full, report
    assert outcomes["messy"].status is Status.GRADED, report
    for expected in (f"renamed 'Copy of {lab_id}.ipynb'", "notebook format repaired", "restored deleted locked cells",
                     "cell type changed back: setup",
                     f"duplicated cells (the last copy counts): {lab.solutions[0]}"):
        assert expected in messy, f"{expected!r} missing from {messy!r}"
    autograded = root / "autograded" / "messy" / lab_id / f"{lab_id}.ipynb"
    text = autograded.read_text()
    assert "hidden-bytes 0 hidden-entries 0" in text, "the sandbox let student code read the gradebook or source/"
    assert autograded.stat().st_size < 1_000_000, "megabytes of output were kept"

    assert scores["deleted-solution"] == lab.full - lab.last_exercise_points, report
    assert f"solution cells deleted (their tests fail): {lab.solutions[-1]}" in report_line(report, lab_id, "deleted-solution")


@pytest.mark.parametrize("lab_id", RUNTIME_LABS)
def test_runaway_code_is_stopped_and_the_rest_is_graded(lab_id, tmp_path):
    lab = Lab(lab_id)
    last = lab.solutions[-1]
    earned_without_last = lab.full - lab.last_exercise_points
    cases = {  # student: (notebook, status, score, report fragment)
        "infinite-loop": (lab.with_last_solution(prefix="while True:\n    pass\n"), "timed out",
                          earned_without_last, f"cell time limit hit in {last}"),
        "kernel-exit": (lab.with_last_solution(prefix="import os\nos._exit(1)\n"), "crashed",
                        earned_without_last, f"the kernel died in cell {last}; that cell was skipped"),
        "segfault": (lab.with_last_solution(prefix="import faulthandler\nfaulthandler._sigsegv()\n"), "crashed",
                     earned_without_last, f"the kernel died in cell {last}; that cell was skipped"),
        "memory-blowup": (lab.with_last_solution(prefix="import numpy\nblob = [numpy.empty(2**30) for _ in range(64)]\n"),
                          "graded", earned_without_last, f"memory limit hit in {last}"),
    }
    root = build_class(tmp_path, lab_id, {s: (f"{lab_id}.ipynb", dump(nb)) for s, (nb, *_) in cases.items()})
    scores, outcomes, report = grade(root, lab_id)
    for student, (_, status, score, fragment) in cases.items():
        assert outcomes[student].status == status, report
        assert scores[student] == score, report
        assert fragment in report_line(report, lab_id, student), report
    assert (root / "quarantine" / "kernel-exit" / lab_id / f"{lab_id}.ipynb").exists(), "the original must be kept"
