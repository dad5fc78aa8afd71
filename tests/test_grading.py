"""Class-scale grading (instructor/grading): parallel equals serial, resumable after a kill, a fresh
course folder (no release/, no gradebook) grades, an unknown lab stops the run once.

One small class (the demo students of the first lab) is graded a few times; nothing else runs.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from classroom import grade_sharing, seed_cache
from instructor import pipeline
from instructor.grading import CourseError, Status
from instructor.notebooks import ROOT, labs

LAB = labs()[0]


def scores(root):
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in pipeline.DEMO_STUDENTS:
            nb = gb.find_submission_notebook(LAB, LAB, student)
            out[student] = {g.name: g.score for g in nb.grades}
    return out


def fresh_class(path):
    """The demo class as a new instructor has it: source/ and submitted/ only (no release/, no gradebook)."""
    root = pipeline.build_demo_class(path, [LAB])
    shutil.rmtree(root / "release")
    (root / "gradebook.db").unlink()
    return root


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    root = fresh_class(tmp_path_factory.mktemp("parallel") / "class")
    run = grade_sharing(root, LAB, workers=2)
    return root, run.grades, run.outcomes, run


def test_fresh_course_folder_grades_in_parallel(parallel):
    root, rows, outcomes, run = parallel
    assert run.ran == len(pipeline.DEMO_STUDENTS)
    assert all(o.status is Status.GRADED for o in outcomes), pipeline.summary(rows, outcomes)
    by_student = {g.student: g for g in rows}
    assert by_student["demo-solution"].score == by_student["demo-solution"].max_score > 0
    assert by_student["demo-untouched"].score == 0
    assert not (root / "release").exists(), "grading must not write release/"
    report = (root / "class_report.html").read_text()
    assert LAB in report and "%" in report and (root / "score_histogram.png").stat().st_size > 0


def test_killed_serial_run_resumes_and_equals_the_parallel_grades(parallel, tmp_path):
    root = fresh_class(tmp_path / "class")
    seed_cache(root, LAB)  # the session's reference and catalogue: the child goes straight to the submissions
    script = ("import sys; from pathlib import Path; from instructor import pipeline; "
              f"pipeline.grade_class(Path({str(root)!r}), [{LAB!r}], progress=False, workers=1)")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = root / "grading-state.json"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and not (state.exists() and state.read_text().count('"status"') >= 1):
        time.sleep(0.5)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # Ctrl-C or a reboot, without any clean-up
    proc.wait()
    recorded = state.read_text().count('"status"')
    assert 1 <= recorded < len(pipeline.DEMO_STUDENTS)
    run = pipeline.grade_class(root, [LAB], progress=False, workers=1)
    rows, outcomes = run.grades, run.outcomes
    assert run.ran == len(pipeline.DEMO_STUDENTS) - recorded, "regraded a finished submission"
    assert {o.student for o in outcomes} == set(pipeline.DEMO_STUDENTS)
    assert all(o.status is Status.GRADED for o in outcomes), pipeline.summary(rows, outcomes)
    assert scores(root) == scores(parallel[0]), "serial and parallel grading disagree"
    # nothing changed: nothing is graded again; a changed file is graded again, alone
    assert pipeline.grade_class(root, [LAB], progress=False).ran == 0
    untouched = (root / "submitted" / "demo-untouched" / LAB / f"{LAB}.ipynb").read_text()
    (root / "submitted" / "demo-solution" / LAB / f"{LAB}.ipynb").write_text(untouched)
    run = pipeline.grade_class(root, [LAB], progress=False)
    assert run.ran == 1
    assert {g.student: g.score for g in run.grades}["demo-solution"] == 0


def test_unknown_lab_stops_once_with_advice(tmp_path):
    root = fresh_class(tmp_path / "class")
    with pytest.raises(CourseError, match="unknown lab 'pt99_nothing'.*labs there"):
        pipeline.grade_class(root, ["pt99_nothing"], progress=False)
    proc = subprocess.run([sys.executable, "-m", "instructor", "class", str(tmp_path), "--labs", "pt99_nothing"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown lab 'pt99_nothing'" in proc.stderr
