"""The grading run: every submission through intake -> scan -> run -> record, then the report.

``grade_class`` composes three steps, each a function of its own:

``plan``     what must be graded: intake and scan (static, here) for every submission not already
             graded from the same file and the same source; gives a :class:`Plan` of tasks and outcomes;
``execute``  the tasks' ``run`` stage — the expensive one — in-process when ``workers`` is 1, and
             otherwise as Dask tasks: on a ``dask.distributed.LocalCluster`` with ``workers`` workers,
             or on an existing cluster given by its scheduler address (Slurm through dask-jobqueue,
             Kubernetes, or ``dask-worker``s started by hand); the same interface either way;
``finish``   feedback, ``grading.log``, ``grades.csv``, ``diagnoses.csv``, the class report, LMS files.

Results come back to this process, the single writer, as they complete; each is recorded (gradebook,
``autograded/``, ``grading-state.json``) before the next, so a run that is killed loses at most the
submissions in flight, and a run started again skips every submission already graded. A task whose
worker dies is retried once; if it fails again the submission is recorded as crashed, never lost.
The stages are handed in (:class:`Stages`), so a test can replace one without patching this module.
"""
from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from .. import lms, zygote
from ..course import CourseFolder
from ..notebooks import labs
from . import diagnose, probes, record, report
from .intake import intake, quarantine
from .notes import note
from .run import reference, run_task, warm_for, warm_of
from .scan import scan
from .types import CourseError, Limits, Outcome, Status, Task, TaskResult


@dataclass(frozen=True)
class Stages:
    """The stages one run uses (the defaults are the course's; tests hand in their own)."""
    intake: Callable = intake
    scan: Callable = scan
    run: Callable = run_task
    reference: Callable = reference
    catalogue: Callable = diagnose.catalogue


@dataclass
class LabPlan:
    """What grading one lab needs, read once: the student version, the source, its digest, the probe."""
    released: nbformat.NotebookNode
    source: nbformat.NotebookNode
    digest: str
    probe: probes.Probe
    warm: tuple = ()   # what a zygote may import ahead (run.warm_of: the setup cell's framework modules)


@dataclass
class Plan:
    """What ``plan`` decided: every (lab, student) in order, an outcome for each (``pending`` until its
    task comes back), the tasks to run, and the resume state they are remembered in."""
    labs: dict[str, LabPlan]
    pairs: list[tuple[str, str]]
    outcomes: dict[tuple[str, str], Outcome]
    tasks: list[Task]
    state: dict


@dataclass
class GradingRun:
    """What ``grade_class`` gives back: the grades, every submission's outcome, and what the run cost."""
    grades: list
    outcomes: list[Outcome]
    seconds: float = 0.0                 # the run stage, wall time
    ran: int = 0                         # submissions executed (the rest were resumed or unreadable)
    catalogue_seconds: float = 0.0       # the diagnosis catalogues (once per lab and source; cached)
    catalogue_problems: list = field(default_factory=list)
    diagnosis_seconds: float = 0.0       # the comparisons, all submissions together
    task_seconds: dict = field(default_factory=dict)  # (lab, student) -> its run stage, wall seconds


def default_threads(workers: int, cores: int | None = None, environ=os.environ) -> int:
    """CPU threads per kernel when ``workers`` kernels run side by side on this machine: its share of the
    cores, at most the grader's own ``OMP_NUM_THREADS`` (a batch scheduler's or a test runner's share)."""
    share = max(1, (cores or os.cpu_count() or 1) // max(1, workers))
    cap = environ.get("OMP_NUM_THREADS", "").strip()
    return min(share, int(cap)) if cap.isdigit() and int(cap) > 0 else share


def check_sandbox(limits: Limits) -> None:
    """Stop before anything is touched when the sandbox the limits ask for cannot start here."""
    if limits.isolate:
        from ..sandbox_kernel import bwrap_works

        if bwrap_works() is None:
            raise CourseError("the grading sandbox needs bubblewrap, which cannot run here: install it "
                              "(`make system-packages`, or `apt-get install bubblewrap`), or grade without "
                              "isolation (--no-isolation) only for code you trust")


def plan(folder: CourseFolder, chosen: list[str], limits: Limits, resume: bool = True,
         stages: Stages = Stages()) -> Plan:
    """Intake and scan every submission of ``chosen`` that is not already graded; unreadable ones get
    their 0 recorded here. An instructor-side fault raises :class:`CourseError` before any is touched."""
    root = folder.root
    lab_plans = {}
    for lab in chosen:
        released = nbformat.reads(record.ensure_assignment(root, lab), as_version=4)
        source = nbformat.read(folder.source(lab), as_version=4)
        lab_plans[lab] = LabPlan(released, source, record.digest(folder.source(lab)), probes.build(lab, source),
                                 warm_of(source))
    pairs = sorted((lab, student) for lab in chosen for student in folder.students(lab))
    state = record.load_state(root) if resume else {}
    outcomes: dict[tuple[str, str], Outcome] = {}
    tasks: list[Task] = []
    for lab, student in pairs:
        it = lab_plans[lab]
        done = record.already_graded(state, root, lab, student, it.digest)
        if done is not None:
            outcomes[(lab, student)] = done
            continue
        got = stages.intake(root, lab, student, it.released)
        if got.nb is None:
            outcomes[(lab, student)] = Outcome(student, lab, Status.UNREADABLE, got.unreadable, tuple(got.notes))
            record.record_zero(root, student, lab)
            record.remember(state, root, outcomes[(lab, student)], it.digest)
            continue
        findings, deleted = stages.scan(got.nb, it.source, lab)
        review = [note("review", f"for review: {f}") for f in findings]
        tasks.append(Task(lab, student, nbformat.writes(got.nb), limits, it.probe, warm=it.warm))
        outcomes[(lab, student)] = Outcome(student, lab, Status.PENDING, "", tuple(got.notes + deleted + review))
    return Plan(lab_plans, pairs, outcomes, tasks, state)


def prepare(folder: CourseFolder, the_plan: Plan, limits: Limits, diagnosis: bool, workers: int,
            stages: Stages = Stages()) -> tuple[float, list[str]]:
    """Every task gets its lab's reference data (and catalogue, with ``diagnosis``), computed once per
    lab in sandbox kernels and cached per source: serially in this thread (whose zygote the serial tasks
    then fork from), or with several workers the labs side by side. Gives (catalogue seconds, catalogue
    problems)."""
    def one(lab: str) -> tuple[dict, dict, float]:
        it = the_plan.labs[lab]
        cache = folder.cache(lab, it.digest)
        ref = stages.reference(lab, it.source, it.probe, limits, cache)
        began = time.perf_counter()
        catalogue = stages.catalogue(lab, it.source, it.probe, ref, limits, cache) if diagnosis else {}
        return ref, catalogue, time.perf_counter() - began

    def one_apart(lab: str) -> tuple[dict, dict, float]:
        try:
            return one(lab)
        finally:  # a pool thread's zygotes would outlive it (until the grader exits)
            zygote.close_this_thread()

    needed = sorted({t.lab for t in the_plan.tasks})
    if workers <= 1 or len(needed) <= 1:  # in this thread: serial tasks then fork from the catalogue's zygote
        prepared = {lab: one(lab) for lab in needed}
    else:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, 4))) as pool:
            prepared = dict(zip(needed, pool.map(one_apart, needed)))
    for task in the_plan.tasks:
        task.reference, task.catalogue, _ = prepared[task.lab]
        task.warm = warm_for(task.warm, task.reference)
    problems = [f"{lab}: {problem}" for lab, p in prepared.items() for problem in p[1].get("problems", [])]
    return sum(p[2] for p in prepared.values()), problems


def _client(workers: int, scheduler: str | None):
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    # Threads are enough locally: each task's work happens in its own sandboxed kernel process.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None)
    return Client(cluster), cluster


def execute(tasks: list[Task], run: Callable[[Task], TaskResult], done: Callable[[TaskResult], None],
            workers: int = 1, scheduler: str | None = None, bar=None) -> None:
    """``run`` every task, serially (``workers`` 1, no scheduler) or on Dask; ``done`` gets each result in
    this process as it completes. A task that fails twice on its worker comes back as crashed."""
    if workers <= 1 and not scheduler:
        for task in tasks:
            done(run(task))
            bar and bar.update()
        return
    if not tasks:
        return
    from distributed import as_completed

    client, cluster = _client(workers, scheduler)
    try:
        futures = {client.submit(run, task, key=f"grade-{task.lab}-{task.student}-{time.time_ns()}",
                                 retries=1, pure=False): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                result = future.result()
            except Exception as err:  # the worker died twice, or the task itself failed
                result = TaskResult(task.lab, task.student, Status.CRASHED,
                                    f"grading failed on the worker: {type(err).__name__}: {err}"[:300])
            done(result)
            bar and bar.update()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def recorder(folder: CourseFolder, the_plan: Plan, totals: dict) -> Callable[[TaskResult], None]:
    """The single writer's hand: one result into the gradebook, ``autograded/``, the outcome and the
    resume state (``totals`` adds up the diagnosis time)."""
    def done(result: TaskResult) -> None:
        key = (result.lab, result.student)
        before = the_plan.outcomes[key]
        totals["diagnosis"] = totals.get("diagnosis", 0.0) + result.diagnosis_seconds
        totals.setdefault("tasks", {})[key] = result.seconds
        if result.neutralized is not None:
            quarantine(folder.root, result.student, result.lab).write_text(result.neutralized)
        record.record_result(folder.root, result)
        the_plan.outcomes[key] = Outcome(result.student, result.lab, Status(result.status), result.detail,
                                         tuple(before.notes) + tuple(result.notes), tuple(result.diagnoses))
        record.remember(the_plan.state, folder.root, the_plan.outcomes[key], the_plan.labs[result.lab].digest)
    return done


def finish(folder: CourseFolder, chosen: list[str], ordered: list[Outcome], problems: list[str],
           lms_name: str | None) -> list:
    """Feedback for every submission (a placeholder for those that did not run), ``grading.log``,
    ``grades.csv``, ``diagnoses.csv``, the class report and the LMS's files; gives the grades."""
    root = folder.root
    with folder.log.open("w") as log:
        for lab in chosen:
            proc = record.feedback(lab, root)
            log.write(f"### generate_feedback {lab} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}\n")
        for problem in problems:
            log.write(f"diagnosis catalogue: {problem}\n")
        for outcome in ordered:
            log.write(f"{outcome.lab} {outcome.student}: {outcome.status} {outcome.detail} {list(outcome.notes)}\n")
            if not folder.autograded(outcome.student, outcome.lab).exists():
                record.placeholder_feedback(outcome, root)
    lms.name_students(root)
    record.export(root)
    report.diagnoses_csv(root, ordered)
    rows = report.grades(root)
    if ordered:
        report.class_report(root, chosen, rows, ordered)
    lms.export(root, chosen, rows, lms_name)
    return rows


def grade_class(root: Path, only: list[str] | None = None, progress=True, limits: Limits | None = None,
                workers: int = 1, scheduler: str | None = None, resume: bool = True, lms_name: str | None = None,
                diagnosis: bool = True, stages: Stages = Stages()) -> GradingRun:
    """Grade every submission of the chosen labs (default: every lab of ``root``); gives a :class:`GradingRun`.

    Every submission ends with a gradebook row and an Outcome (see the module docstring).
    ``progress``: a progress bar (True, on stderr), the stream to draw it on, or False. ``diagnosis``:
    name each lost exercise's mistake from the lab's catalogue (:mod:`.diagnose`). ``lms_name``
    ("canvas", "moodle", or None: the LMS the class was collected from, if any) chooses the grade import
    file and feedback bundle written into ``lms/`` beside ``grades.csv`` (:mod:`instructor.lms`). An
    instructor-side fault (unknown lab, a source nbgrader cannot register, no sandbox) raises
    :class:`~instructor.grading.types.CourseError` before any submission is touched.
    """
    from tqdm import tqdm

    folder = CourseFolder(root)
    limits = limits or Limits()
    if limits.threads is None and not scheduler:  # kernels side by side share the cores
        limits = dataclasses.replace(limits, threads=default_threads(workers))
    chosen = only or labs(root)
    check_sandbox(limits)
    the_plan = plan(folder, chosen, limits, resume, stages)
    catalogue_seconds, problems = prepare(folder, the_plan, limits, diagnosis, workers, stages)
    totals: dict = {}
    start = time.perf_counter()
    bar = tqdm(total=len(the_plan.tasks), desc="grade", unit="submission", disable=not progress,
               file=None if isinstance(progress, bool) else progress)
    execute(the_plan.tasks, stages.run, recorder(folder, the_plan, totals), workers, scheduler, bar)
    bar.close()
    seconds = time.perf_counter() - start
    ordered = [the_plan.outcomes[pair] for pair in the_plan.pairs]
    rows = finish(folder, chosen, ordered, problems, lms_name)
    return GradingRun(rows, ordered, seconds, len(the_plan.tasks), catalogue_seconds, problems,
                      totals.get("diagnosis", 0.0), totals.get("tasks", {}))
