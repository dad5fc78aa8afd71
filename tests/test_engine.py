"""The grading engine's pieces on their own, without a kernel: the course folder, the intake's repairs,
the scan, the run stage's pure helpers, the sandbox command, the resume state, and a whole
``grade_class`` with a stand-in run stage (Stages), serial and on Dask.

What a submission does in a real sandbox kernel is tests/test_trust.py's and tests/test_adversarial.py's."""
from __future__ import annotations

import dataclasses
import json
import shutil

import nbformat
import pytest

from instructor import pipeline
from instructor.course import CourseFolder
from instructor.grading import GradingRun, Limits, Stages, Status, TaskResult, dispatch, intake, record, run
from instructor.notebooks import ROOT, dumps
from instructor.safety import check_readable, find_tampering
from instructor.sandbox_kernel import Spec, bwrap_command

LAB = "pt01_batchnorm"


@pytest.fixture(scope="module")
def source():
    return nbformat.read(ROOT / "source" / LAB / f"{LAB}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def released():
    return nbformat.read(ROOT / "release" / LAB / f"{LAB}.ipynb", as_version=4)


def meta(cell):
    return cell.metadata.get("nbgrader", {})


# ------------------------------------------------------------------ the course folder
def test_course_folder_spells_nbgrader_layout(tmp_path):
    folder = CourseFolder(tmp_path)
    assert folder.submitted("ann", LAB) == tmp_path / "submitted" / "ann" / LAB / f"{LAB}.ipynb"
    assert folder.autograded("ann", LAB) == tmp_path / "autograded" / "ann" / LAB / f"{LAB}.ipynb"
    assert folder.feedback("ann", LAB) == tmp_path / "feedback" / "ann" / LAB / f"{LAB}.html"
    assert folder.quarantine("ann", LAB).parts[-4:] == ("quarantine", "ann", LAB, f"{LAB}.ipynb")
    assert folder.gradebook_url == f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert folder.cache(LAB, "ab" * 32).name == f"{LAB}-{'ab' * 8}"
    for student in ("bob", "ann"):
        (tmp_path / "submitted" / student / LAB).mkdir(parents=True)
    (tmp_path / "submitted" / "cat" / "tf01_batchnorm").mkdir(parents=True)
    assert folder.students(LAB) == ["ann", "bob"]


def test_limits_defaults_live_once():
    """The kernel's sandbox spec and the grader's limits share their defaults; a status is its value."""
    assert (Limits().memory_mb, Limits().file_mb, Limits().isolate) == (Spec().memory_mb, Spec().file_mb, Spec().isolate)
    assert json.dumps({"s": Status.TIMED_OUT}) == '{"s": "timed out"}' and f"{Status.CRASHED}" == "crashed"
    assert Status("unreadable") is Status.UNREADABLE


# ------------------------------------------------------------------ intake
def test_check_readable_names_why_a_file_is_not_a_notebook():
    assert check_readable("")[1] == "unreadable: the file is empty"
    assert "invalid JSON" in check_readable("{not json")[1]
    assert "not a Jupyter notebook" in check_readable('{"cells": {}, "nbformat": 4}')[1]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    del nb.cells[0]["id"]
    got, why = check_readable(json.dumps(nb))
    assert why == "" and got.cells[0].id  # a missing id is repaired, not refused


def test_repair_structure_undoes_what_breaks_nbgrader(released):
    nb = nbformat.from_dict(released)
    locked = [c for c in nb.cells if meta(c).get("locked") and meta(c).get("grade_id")]
    answer = next(c for c in nb.cells if meta(c).get("solution"))
    gone = locked[-1]
    nb.cells.remove(gone)                               # a deleted locked cell
    nb.cells.insert(0, nbformat.from_dict(answer))      # a duplicated answer: the last copy counts
    answer.cell_type = "raw"                           # its type changed
    pasted = nbformat.v4.new_code_cell("y = 2", metadata={"nbgrader": {"solution": True}})
    nb.cells.append(pasted)                            # nbgrader metadata without grade_id
    notes = intake.repair_structure(nb, released)
    assert sorted(n.code for n in notes) == ["duplicated-cells", "locked-restored", "metadata-dropped", "type-restored"]
    assert meta(gone)["grade_id"] in next(n for n in notes if n.code == "locked-restored")
    ids = [meta(c).get("grade_id") for c in nb.cells]
    assert ids.count(meta(answer)["grade_id"]) == 1 and meta(gone)["grade_id"] in ids
    assert next(c for c in nb.cells if meta(c).get("grade_id") == meta(answer)["grade_id"]).cell_type == "code"
    assert intake.repair_structure(nbformat.from_dict(released), released) == []  # the release needs nothing


def test_restore_locked_puts_back_the_released_tests(released):
    nb = nbformat.from_dict(released)
    grade = next(c for c in nb.cells if meta(c).get("grade") and meta(c).get("locked"))
    original = grade.source
    grade.source = "pass  # the test, emptied"
    notes = intake.restore_locked(nb, released)
    assert grade.source == original and [n.code for n in notes] == ["locked-edited"] and meta(grade)["grade_id"] in notes[0]


def test_notes_keep_their_code_through_dask_and_the_state_file(tmp_path):
    import pickle

    from instructor.grading.notes import CODES, Note, from_state, note

    made = note("kernel-died", "the kernel died in cell x; that cell was skipped")
    assert pickle.loads(pickle.dumps(made)).code == "kernel-died" and json.dumps([made]) == json.dumps([str(made)])
    with pytest.raises(ValueError, match="unknown note code 'kernel-dead'"):
        Note("text", "kernel-dead")
    assert from_state(["review", "for review: x"]).code == "review" and from_state("an older state's note").code == ""
    assert len(set(CODES)) == len(CODES)
    path = CourseFolder(tmp_path).submitted("ann", LAB)
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    outcome = pipeline.Outcome("ann", LAB, Status.UNREADABLE, "unreadable", (made, note("renamed", "renamed 'a'")))
    state = {}
    record.remember(state, tmp_path, outcome, "s")
    back = record.already_graded(record.load_state(tmp_path), tmp_path, LAB, "ann", "s")
    assert back == outcome and back.codes == ["kernel-died", "renamed"]


# ------------------------------------------------------------------ scan
def test_scan_reports_tampering_and_passes_the_solution(source):
    assert find_tampering(source, source) == []
    nb = nbformat.from_dict(source)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import torch\ntorch.allclose = lambda *a, **k: True\nimport ctypes\nclass T:\n    def __eq__(s, o): return True\n"
        "v = getattr(torch, 'al' + 'lclose')\n"))
    found = {(f.what.split(" ")[0], f.severe) for f in find_tampering(nb, source)}
    assert {("overwrites", True), ("imports", True), ("defines", True), ("getattr", False)} <= found


# ------------------------------------------------------------------ run stage, pure parts
def test_graded_part_stops_at_the_last_grade_cell(source):
    part, trailing = run.graded_part(source)
    assert meta(part.cells[-1]).get("grade") and len(part.cells) + len(trailing) == len(source.cells)
    assert not any(meta(c).get("grade") for c in trailing)
    assert all(c.get("outputs", []) == [] for c in trailing if c.cell_type == "code")


def test_runtime_notes_name_the_cells_that_hit_a_limit():
    cells = [nbformat.v4.new_code_cell("a", metadata={"nbgrader": {"grade_id": "slow"}}),
             nbformat.v4.new_code_cell("b"), nbformat.v4.new_code_cell("c")]
    cells[0].outputs = [nbformat.v4.new_output("error", ename="CellTimeoutError", evalue="", traceback=[])]
    cells[1].outputs = [nbformat.v4.new_output("error", ename="MemoryError", evalue="", traceback=[])]
    cells[2].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])]
    assert run.runtime_notes(nbformat.v4.new_notebook(cells=cells)) == (["slow"], ["#2"])


def test_bwrap_command_is_an_allow_list(tmp_path):
    spec = Spec(writable=[str(tmp_path / "scratch"), str(tmp_path / "runtime")])
    args = bwrap_command("/usr/bin/bwrap", spec)
    binds = {args[i + 1] for i, a in enumerate(args) if a in ("--bind", "--ro-bind")}
    writable = {args[i + 1] for i, a in enumerate(args) if a == "--bind"}
    assert writable == set(spec.writable)
    assert not any(str(ROOT / part) in binds for part in ("source", "tests", "instructor", "submitted"))
    assert str(ROOT / "course_utils") in binds
    for flag in ("--unshare-all", "--die-with-parent", "--new-session"):
        assert flag in args
    assert args[args.index("--cap-drop") + 1] == "ALL" and args[args.index("--chdir") + 1] == spec.writable[0]


# ------------------------------------------------------------------ resume state
def test_resume_state_knows_what_was_graded_from_which_file(tmp_path):
    folder = CourseFolder(tmp_path)
    path = folder.submitted("ann", LAB)
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    state = {}
    outcome = pipeline.Outcome("ann", LAB, Status.UNREADABLE, "unreadable: JSON but not a Jupyter notebook")
    record.remember(state, tmp_path, outcome, "source-1")
    assert json.loads(folder.state.read_text()) == state
    assert record.already_graded(record.load_state(tmp_path), tmp_path, LAB, "ann", "source-1") == outcome
    assert record.already_graded(state, tmp_path, LAB, "ann", "source-2") is None       # the lab changed
    path.write_text("[]")
    assert record.already_graded(state, tmp_path, LAB, "ann", "source-1") is None       # the file changed
    folder.state.write_text('{"cut off')
    assert record.load_state(tmp_path) == {}                                            # a kill mid-write
    record.remember(state, tmp_path, pipeline.Outcome("ann", LAB, Status.GRADED), "source-1")
    assert record.already_graded(state, tmp_path, LAB, "ann", "source-1") is None, "its autograded notebook is gone"
    state[f"{LAB}/ann"]["status"] = "some status of an older grader"
    assert record.already_graded(state, tmp_path, LAB, "ann", "source-1") is None


def test_cached_json_ignores_planted_and_cut_files(tmp_path):
    record.store_json(tmp_path / "a" / "x.json", {"k": 1})
    assert record.cached_json(tmp_path / "a" / "x.json") == {"k": 1}
    assert not list((tmp_path / "a").glob(".*.tmp"))
    (tmp_path / "a" / "cut.json").write_text('{"k"')
    (tmp_path / "a" / "link.json").symlink_to(tmp_path / "a" / "x.json")
    assert record.cached_json(tmp_path / "a" / "cut.json") is None
    assert record.cached_json(tmp_path / "a" / "link.json") is None
    assert record.cached_json(tmp_path / "a" / "missing.json") is None


# ------------------------------------------------------------------ the whole run, a stand-in run stage
def fake_run(task):
    """Full marks for a submission whose first answer is the solution's, 0 otherwise; 'loop' times out,
    'boom' makes the worker fail (Dask: retried, then crashed)."""
    if task.student == "boom":
        raise RuntimeError("the worker died")
    nb = nbformat.reads(task.notebook, as_version=4)
    if task.student == "loop":
        return TaskResult(task.lab, task.student, Status.TIMED_OUT, "the notebook ran past its limit of 1 s")
    answer = next(c for c in nb.cells if meta(c).get("solution"))
    right = "BEGIN SOLUTION" in answer.source or "raise NotImplementedError" not in answer.source
    scores = {g: (task.probe.points[g] if right else 0.0, False) for g in task.probe.points}
    return TaskResult(task.lab, task.student, Status.GRADED, "", [], dumps(nb), scores)


def fake_reference(lab, source, probe, limits, cache):
    return {"runs": {"1": {}}}


@pytest.fixture(scope="module")
def small_class(tmp_path_factory, source, released):
    root = tmp_path_factory.mktemp("engine")
    shutil.copytree(ROOT / "source" / LAB, root / "source" / LAB)
    folder = CourseFolder(root)
    for student, nb in {"ann": source, "bob": released, "loop": source}.items():
        folder.submitted(student, LAB).parent.mkdir(parents=True)
        folder.submitted(student, LAB).write_text(dumps(nb))
    folder.submitted("eve", LAB).parent.mkdir(parents=True)
    (folder.submitted("eve", LAB).parent / "notes.txt").write_text("no notebook")
    return root


STAGES = Stages(run=fake_run, reference=fake_reference, catalogue=lambda *a: {})


def test_grade_class_composes_the_stages_and_resumes(small_class):
    run_ = pipeline.grade_class(small_class, [LAB], progress=False, limits=Limits(isolate=False), stages=STAGES)
    assert isinstance(run_, GradingRun) and run_.ran == 3 and run_.catalogue_problems == []
    status = {o.student: o.status for o in run_.outcomes}
    assert status == {"ann": Status.GRADED, "bob": Status.GRADED, "eve": Status.UNREADABLE, "loop": Status.TIMED_OUT}
    score = {g.student: g.score for g in run_.grades}
    assert score["ann"] == max(g.max_score for g in run_.grades) > 0 and score["bob"] == score["eve"] == 0
    folder = CourseFolder(small_class)
    for student in status:  # nothing is lost: a row, feedback and a state entry for everyone
        assert folder.feedback(student, LAB).exists(), student
        assert f"{LAB}/{student}" in json.loads(folder.state.read_text())
    assert {r["student_id"] for r in pipeline.read_grades_csv(folder.grades_csv)} == set(status)
    again = pipeline.grade_class(small_class, [LAB], progress=False, limits=Limits(isolate=False), stages=STAGES)
    assert again.ran == 0 and {o.student: o.status for o in again.outcomes} == status


def test_execute_on_dask_turns_a_dead_worker_into_crashed(small_class, source):
    tasks = [dispatch.Task(LAB, name, dumps(source), Limits(isolate=False), None) for name in ("boom",)]
    got = []
    dispatch.execute(tasks, fake_run, got.append, workers=2)
    assert [(r.student, r.status) for r in got] == [("boom", Status.CRASHED)]
    assert "RuntimeError: the worker died" in got[0].detail


# ------------------------------------------------------------------ the lab's metadata, read once
@pytest.mark.parametrize("lab", sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir()))
def test_lab_notebook_partitions_the_points_into_exercises(lab):
    from instructor.lab import LabNotebook

    facts = LabNotebook.read(ROOT / "source" / lab / f"{lab}.ipynb")
    assert facts.solution_ids and all(e.grades for e in facts.exercises.values()), f"{lab}: an exercise without tests"
    assert sum(e.points for e in facts.exercises.values()) == facts.full > 0, f"{lab}: a grade cell outside every exercise"
    blocks = list(facts.exercises.values())
    for e, following in zip(blocks, blocks[1:]):
        assert e.index < e.last_grade < e.end == following.index
    assert all(facts.exercise_of(g) == e.solution_id for e in blocks for g, _ in e.grades)
    released = LabNotebook.read(ROOT / "release" / lab / f"{lab}.ipynb")
    assert (released.solution_ids, released.points) == (facts.solution_ids, facts.points), f"{lab}: release out of date"


def test_limits_on_the_command_line_come_from_the_dataclass():
    import argparse

    from instructor.__main__ import LIMIT_OPTIONS, add_limit_options, limits_from

    parser = argparse.ArgumentParser()
    add_limit_options(parser)
    parser.add_argument("--no-isolation", action="store_true")
    assert limits_from(parser.parse_args([])) == Limits()
    got = limits_from(parser.parse_args(["--cell-seconds", "30", "--memory-mb", "4096", "--notebook-seconds", "60.5",
                                         "--no-isolation"]))
    assert (got.cell_seconds, got.memory_mb, got.notebook_seconds, got.isolate) == (30, 4096, 60.5, False)
    assert set(LIMIT_OPTIONS) <= {f for f in Limits.__dataclass_fields__}


@pytest.mark.parametrize("lab", sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir()))
def test_every_lab_gets_a_zygote_of_its_own_framework_only(lab):
    """A zygote imports only the fork-safe framework modules of the lab's own setup cell
    (instructor/zygote.py): torch labs get torch, TensorFlow labs TensorFlow and Keras, and never the
    other framework, course_utils or anything else the setup cell names."""
    from instructor.zygote import WARM_ROOTS, warm_modules

    warm = run.warm_of(nbformat.read(ROOT / "source" / lab / f"{lab}.ipynb", as_version=4))
    assert all(m.split(".")[0] in WARM_ROOTS for m in warm), warm
    mine, other = (("torch",), ("tensorflow", "keras")) if lab.startswith("pt") else (("tensorflow", "keras"), ("torch",))
    assert set(mine) <= set(warm) and not set(other) & {m.split(".")[0] for m in warm}, warm
    assert warm_modules("import tensorflow as tf\nimport numpy as np\nimport course_utils") == ("numpy", "tensorflow")
    assert warm_modules("import jax\nimport numpy as np") == ()  # a framework never measured: a cold kernel
    assert warm_modules("import torch\nfrom . import x\nimport os") == ("torch",)
    assert warm_modules("def broken(:") == ()


def test_a_zygote_also_imports_what_the_solutions_run_loaded_of_the_framework_in_load_order():
    """instructor.zygote.ahead: the setup cell's modules first, then the framework modules the solution's
    reference run had loaded (in that order, once each); nothing of other roots; no zygote stays none."""
    from instructor.zygote import ahead

    loaded = ["torch", "sys", "torch._dynamo", "sympy", "torch.distributed.tensor", "course_utils.plotting",
              "torch._dynamo", 7, None, "numpy", "matplotlib.pyplot"]
    assert ahead(("numpy", "torch"), loaded) == ("numpy", "torch", "torch._dynamo", "torch.distributed.tensor",
                                                 "matplotlib.pyplot")
    assert ahead(("numpy", "torch"), None) == ahead(("numpy", "torch"), []) == ("numpy", "torch")
    assert ahead((), loaded) == ()  # a lab without a zygote (jax) gets none from its reference either
    assert run.warm_for(("torch",), {"loaded": ["torch", "torch.fx"]}) == ("torch", "torch.fx")
    assert run.warm_for(("torch",), {}) == ("torch",)  # a reference cached before the report existed


def test_kernels_side_by_side_share_the_cores_within_the_graders_thread_cap():
    """One kernel per core at most, and never more threads than the grader's OMP_NUM_THREADS allows."""
    threads = dispatch.default_threads
    assert threads(1, cores=16, environ={}) == 16 and threads(4, cores=16, environ={}) == 4
    assert threads(32, cores=16, environ={}) == 1 and threads(0, cores=2, environ={}) == 2
    assert threads(1, cores=16, environ={"OMP_NUM_THREADS": "3"}) == 3
    assert threads(8, cores=16, environ={"OMP_NUM_THREADS": "3"}) == 2
    for junk in ("", "0", "-1", "two", " "):
        assert threads(1, cores=8, environ={"OMP_NUM_THREADS": junk}) == 8, junk


def test_prepare_runs_serially_in_the_graders_thread_and_closes_a_pool_threads_zygotes(small_class, source):
    """Serial grading prepares in the grader's own thread, so the tasks fork from the zygote the catalogue
    started (one zygote start per lab, not two); labs prepared side by side in pool threads close those
    threads' zygotes (a thread's zygote would otherwise live on, idle, until the grader exits)."""
    import threading

    from instructor import zygote

    seen, closed = [], []

    class Held:  # stands for a zygote a pool thread started
        def close(self):
            closed.append(threading.get_ident())

    def reference(lab, *args):
        seen.append(("reference", threading.get_ident()))
        zygote._local.__dict__.setdefault("zygotes", {})[(lab,)] = Held()
        return {"runs": {"1": {}}}

    def catalogue(lab, *args):
        seen.append(("catalogue", threading.get_ident()))
        return {}

    def task_run(task):
        seen.append(("run", threading.get_ident()))
        return fake_run(task)

    stages = Stages(run=task_run, reference=reference, catalogue=catalogue)
    pipeline.grade_class(small_class, [LAB], progress=False, limits=Limits(isolate=False), stages=stages, resume=False)
    assert {ident for _, ident in seen} == {threading.get_ident()} and closed == [], seen
    zygote._local.__dict__.pop("zygotes", None)
    plan_ = dispatch.plan(CourseFolder(small_class), [LAB], Limits(isolate=False), resume=False, stages=stages)
    two = dataclasses.replace(plan_, labs={**plan_.labs, "other": plan_.labs[LAB]},
                              tasks=plan_.tasks + [dataclasses.replace(plan_.tasks[0], lab="other")])
    seen.clear()
    dispatch.prepare(CourseFolder(small_class), two, Limits(isolate=False), True, workers=2, stages=stages)
    pool_threads = {ident for kind, ident in seen if kind == "reference"}
    assert threading.get_ident() not in pool_threads and set(closed) == pool_threads and len(closed) == 2  # one per lab
