"""The grading run: every submission through intake -> scan -> run -> record, then the report.

Intake and scan are static and run here; the ``run`` stage — the expensive one — runs in-process when
``workers`` is 1, and otherwise as Dask tasks: on a ``dask.distributed.LocalCluster`` with ``workers``
workers, or on an existing cluster given by its scheduler address (Slurm through dask-jobqueue,
Kubernetes, or ``dask-worker``s started by hand). Results come back to this process, the single
writer, as they complete; each is recorded (gradebook, ``autograded/``, ``grading-state.json``)
before the next, so a run that is killed loses at most the submissions in flight, and a run started
again skips every submission already graded from the same file and the same source. A task whose
worker dies is retried once; if it fails again the submission is recorded as crashed, never lost.
"""
from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from .. import lms
from ..notebooks import labs
from . import diagnose, probes, record, report
from .intake import intake
from .run import reference, run_task
from .scan import scan
from .types import CourseError, Limits, Outcome, Task, TaskResult


def _client(workers: int, scheduler: str | None):
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    # Threads are enough locally: each task's work happens in its own sandboxed kernel process.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None)
    return Client(cluster), cluster


def grade_class(root: Path, only: list[str] | None = None, progress=True, limits: Limits | None = None,
                workers: int = 1, scheduler: str | None = None, resume: bool = True, lms_name: str | None = None,
                diagnosis: bool = True):
    """Grade every submission of the chosen labs; returns ``(grades, outcomes)``.

    ``diagnosis``: name each lost exercise's mistake from the lab's catalogue (:mod:`.diagnose`).

    ``lms_name`` ("canvas", "moodle", or None: the LMS the class was collected from, if any) chooses the
    grade import file and feedback bundle written into ``lms/`` beside ``grades.csv`` (:mod:`instructor.lms`).

    Every submission ends with a gradebook row and an Outcome (see the module docstring). An
    ``progress``: show a progress bar (True, on stderr), or the stream to draw it on, or False. An
    instructor-side fault (unknown lab, a source nbgrader cannot register) raises
    :class:`~instructor.grading.types.CourseError` before any submission is touched.
    """
    from tqdm import tqdm

    limits = limits or Limits()
    if limits.threads is None and not scheduler:
        limits = dataclasses.replace(limits, threads=max(1, (os.cpu_count() or 1) // max(1, workers)))
    chosen = only or labs(root)
    if limits.isolate:
        from ..sandbox_kernel import bwrap_works

        if bwrap_works() is None:
            raise CourseError("the grading sandbox needs bubblewrap, which cannot run here: install it "
                              "(`make system-packages`, or `apt-get install bubblewrap`), or grade without "
                              "isolation (--no-isolation) only for code you trust")
    released = {lab: nbformat.reads(record.ensure_assignment(root, lab), as_version=4) for lab in chosen}
    source_digest = {lab: record.digest(root / "source" / lab / f"{lab}.ipynb") for lab in chosen}
    sources = {lab: nbformat.read(root / "source" / lab / f"{lab}.ipynb", as_version=4) for lab in chosen}
    checks_of = {lab: probes.build(lab, sources[lab]) for lab in chosen}
    pairs = sorted((lab, p.parent.name) for lab in chosen for p in (root / "submitted").glob(f"*/{lab}"))
    state = record.load_state(root) if resume else {}
    outcomes: dict[tuple[str, str], Outcome] = {}
    tasks: list[Task] = []
    for lab, student in pairs:
        done = record.already_graded(state, root, lab, student, source_digest[lab])
        if done is not None:
            outcomes[(lab, student)] = done
            continue
        got = intake(root, lab, student, released[lab])
        if got.nb is None:
            outcome = Outcome(student, lab, "unreadable", got.unreadable, tuple(got.notes))
        else:
            findings, deleted = scan(got.nb, sources[lab], lab)
            review = [f"for review: {f}" for f in findings]
            tasks.append(Task(lab, student, nbformat.writes(got.nb), limits, checks_of[lab]))
            outcomes[(lab, student)] = Outcome(student, lab, "pending", "", tuple(got.notes + deleted + review))
            continue
        record.record_zero(root, student, lab)
        outcomes[(lab, student)] = outcome
        record.remember(state, root, outcome, source_digest[lab])

    spent = {"diagnosis": 0.0}

    def finish(result: TaskResult) -> None:
        before = outcomes[(result.lab, result.student)]
        spent["diagnosis"] += result.diagnosis_seconds
        if result.neutralized is not None:
            from .intake import quarantine

            quarantine(root, result.student, result.lab).write_text(result.neutralized)
        record.record_result(root, result)
        outcome = Outcome(result.student, result.lab, result.status, result.detail,
                          tuple(before.notes) + tuple(result.notes), tuple(result.diagnoses))
        outcomes[(result.lab, result.student)] = outcome
        record.remember(state, root, outcome, source_digest[result.lab])

    def prepare(lab: str) -> tuple[dict, dict, float]:
        """The solution's reference data, then the catalogue's (sandbox kernels; cached per source)."""
        cache = root / record.CACHE / f"{lab}-{source_digest[lab][:16]}"
        ref = reference(lab, sources[lab], checks_of[lab], limits, cache)
        began = time.perf_counter()
        catalogue = diagnose.catalogue(lab, sources[lab], checks_of[lab], ref, limits, cache) if diagnosis else {}
        return ref, catalogue, time.perf_counter() - began

    needed = sorted({t.lab for t in tasks})
    with ThreadPoolExecutor(max_workers=max(1, min(workers, 4))) as pool:  # each lab's kernels side by side
        prepared = dict(zip(needed, pool.map(prepare, needed)))
    references = {lab: p[0] for lab, p in prepared.items()}
    catalogues = {lab: p[1] for lab, p in prepared.items()}
    catalogue_seconds = sum(p[2] for p in prepared.values())
    problems = [f"{lab}: {problem}" for lab, c in catalogues.items() for problem in c.get("problems", [])]
    for task in tasks:
        task.reference, task.catalogue = references[task.lab], catalogues.get(task.lab, {})
    start = time.perf_counter()
    bar = tqdm(total=len(tasks), desc="grade", unit="submission", disable=not progress,
               file=None if isinstance(progress, bool) else progress)
    if workers <= 1 and not scheduler:
        for task in tasks:
            finish(run_task(task))
            bar.update()
    elif tasks:
        from distributed import as_completed

        client, cluster = _client(workers, scheduler)
        try:
            futures = {client.submit(run_task, task, key=f"grade-{task.lab}-{task.student}-{time.time_ns()}",
                                     retries=1, pure=False): task for task in tasks}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    result = future.result()
                except Exception as err:  # the worker died twice, or the task itself failed
                    result = TaskResult(task.lab, task.student, "crashed",
                                        f"grading failed on the worker: {type(err).__name__}: {err}"[:300])
                finish(result)
                bar.update()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    bar.close()
    seconds = time.perf_counter() - start
    ordered = [outcomes[pair] for pair in pairs]
    with (root / "grading.log").open("w") as log:
        for lab in chosen:
            proc = record.feedback(lab, root)
            log.write(f"### generate_feedback {lab} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}\n")
        for problem in problems:
            log.write(f"diagnosis catalogue: {problem}\n")
        for outcome in ordered:
            log.write(f"{outcome.lab} {outcome.student}: {outcome.status} {outcome.detail} {list(outcome.notes)}\n")
            if not (root / "autograded" / outcome.student / outcome.lab / f"{outcome.lab}.ipynb").exists():
                record.placeholder_feedback(outcome, root)
    lms.name_students(root)
    record.export(root)
    report.diagnoses_csv(root, ordered)
    rows = report.grades(root)
    if pairs:
        report.class_report(root, chosen, rows, ordered)
    lms.export(root, chosen, rows, lms_name)
    grade_class.last_run = {"seconds": seconds, "ran": len(tasks), "catalogue_seconds": catalogue_seconds,
                            "catalogue_problems": problems, "diagnosis_seconds": spent["diagnosis"]}
    return rows, ordered


grade_class.last_run = {"seconds": 0.0, "ran": 0, "catalogue_seconds": 0.0, "catalogue_problems": [],
                        "diagnosis_seconds": 0.0}
