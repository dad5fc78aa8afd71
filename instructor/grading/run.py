"""Stage 3, run: one submission through ``nbgrader autograde`` in the grading sandbox, in isolation.

Takes a :class:`~instructor.grading.types.Task` (the notebook, a gradebook that knows only its lab,
the limits) and gives a :class:`~instructor.grading.types.TaskResult`. Everything happens in a fresh
temporary course folder of its own, so any number of tasks can run at once (on Dask workers, local or
remote) without sharing a file or an SQLite database; the single writer (``record``) merges results.

A cell that kills the kernel (``os._exit``, a segfault) is replaced by a ``raise`` and the notebook is
graded again, at most three times; the notebook ran past its limit -> "timed out".
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from ..notebooks import ROOT
from .types import Limits, Task, TaskResult

BUILD = ROOT / "build"
NBGRADER = [sys.executable, "-m", "nbgrader"]


def tool_env() -> dict:
    """The environment with this interpreter's bin/ first on PATH (nbgrader calls ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def check_config_loaded(log: str) -> None:
    """nbgrader only logs a config file that fails to load and goes on without it: stop instead."""
    if "loading config file" in log.lower():
        raise RuntimeError(f"nbgrader could not load nbgrader_config.py:\n{log[-2000:]}")


def last_error_line(text: str) -> str:
    """The final 'SomeError: message' line of nbgrader's log, or its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", ln)]
    return (errors or lines or ["no output"])[-1][:300]


def hidden_paths(root: Path, student: str) -> list[str]:
    """What one student's kernel must not see: grading state, instructor files, other students."""
    names = ("source", "release", "submitted", "feedback", "downloaded", "quarantine",
             "gradebook.db", "grades.csv", "grading.log", "grading-state.json", ".grading-cache")
    paths = [root / n for n in names]
    if (root / "autograded").is_dir():
        paths += [d for d in (root / "autograded").iterdir() if d.name != student]
    if root.resolve() != ROOT:
        paths += [ROOT / n for n in ("source", "submitted", "autograded", "feedback", "gradebook.db")]
    paths += [ROOT / n for n in (".git", "tests", ".grading-cache", "quarantine", "downloaded")] + [BUILD]
    return [str(p) for p in dict.fromkeys(paths) if p.exists()]


def locked_cells(source: nbformat.NotebookNode) -> list[dict]:
    """The lab's locked code cells as the guard recognizes them (see :func:`instructor.guard.expected_cells`)."""
    import ast

    from ..guard import expected_cells

    cells = []
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("locked") or meta.get("solution"):
            continue
        try:
            body = ast.parse("\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                                       for ln in cell.source.splitlines())).body
        except SyntaxError:
            body = []
        helpers = [n.name for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        cells.append({"grade_id": meta["grade_id"], "source": cell.source, "grade": bool(meta.get("grade")),
                      "helpers": helpers})
    return expected_cells(cells)


def write_sandbox_kernel(workdir: Path, hide: list[str], limits: Limits, cells: list[dict], key: bytes) -> Path:
    """A kernelspec ``course-sandbox`` under ``workdir/kernels`` (put ``workdir`` on JUPYTER_PATH).

    The sandbox spec (limits, hidden paths, the guard's key and locked cells) goes into a file that the
    kernel reads and deletes before any cell runs (see :mod:`instructor.sandbox_kernel`).
    """
    marker_dir = workdir / "marker"
    marker_dir.mkdir(parents=True, exist_ok=True)
    spec = {"memory_mb": limits.memory_mb, "file_mb": limits.file_mb, "marker_dir": str(marker_dir),
            "hide": hide if limits.isolate else None, "isolate": limits.isolate,
            "key": key.hex(), "cells": [{k: c[k] for k in ("grade_id", "digest", "helpers")} for c in cells]}
    spec_path = workdir / "sandbox-spec.json"
    spec_path.write_text(json.dumps(spec))
    os.chmod(spec_path, 0o600)
    kernel_dir = workdir / "kernels" / "course-sandbox"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "instructor.sandbox_kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (course grading sandbox)", "language": "python",
        # bubblewrap does not forward SIGINT: a timed-out cell is interrupted by a control message
        "interrupt_mode": "message",
        "env": {"COURSE_SANDBOX_SPEC": str(spec_path), "PYTHONPATH": str(ROOT)},
    }, indent=1))
    return marker_dir


def run_nbgrader_autograde(lab: str, student: str, root: Path, limits: Limits, workdir: Path, hide: list[str],
                           cells: list[dict], key: bytes):
    """One ``nbgrader autograde`` of one student in the sandbox kernel: (exit code or None on timeout, log)."""
    write_sandbox_kernel(workdir, hide, limits, cells, key)
    env = tool_env()
    env["JUPYTER_PATH"] = os.pathsep.join([str(workdir), env.get("JUPYTER_PATH", "")])
    runtime = workdir / "runtime"  # the connection file and the kernel's Unix sockets, bound into the sandbox
    runtime.mkdir(parents=True, exist_ok=True)
    env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    if limits.threads:  # kernels graded side by side share the cores instead of oversubscribing them
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
            env[name] = str(limits.threads)
        env["TF_NUM_INTEROP_THREADS"] = "1"
    cmd = [*NBGRADER, "autograde", lab, f"--student={student}", "--force", f"--CourseDirectory.root={root}",
           "--Execute.kernel_name=course-sandbox", "--KernelManager.transport=ipc",
           f"--KernelManager.connection_file={runtime / 'kernel.json'}"]
    if limits.cell_seconds is not None:
        cmd.append(f"--Execute.timeout={limits.cell_seconds}")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=limits.notebook_seconds)
        check_config_loaded(output)
        return proc.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # nbgrader and the kernel it started
        return None, proc.communicate()[0]


def runtime_notes(nb: nbformat.NotebookNode) -> tuple[list[str], list[str]]:
    """(cells that hit the time limit, cells that hit the memory limit) in an autograded notebook."""
    timed_out, memory = [], []
    for index, cell in enumerate(nb.cells):
        label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"#{index + 1}"
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.ename in ("CellTimeoutError", "TimeoutError") or (
                    out.ename == "KeyboardInterrupt" and "timeout" in out.evalue.lower()):
                timed_out.append(label)
            elif "MemoryError" in out.ename or "OutOfMemory" in out.ename or "allocate" in out.evalue:
                memory.append(label)
    return sorted(set(timed_out)), sorted(set(memory))


def neutralize_cell(nb: nbformat.NotebookNode, source_digest: str) -> str | None:
    """Replace the code cell whose source has SHA-256 ``source_digest`` by a ``raise``; its label."""
    from ..guard import raw_digests

    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and source_digest in raw_digests(cell.source):
            cell.source = ("raise RuntimeError('This cell stopped the Python kernel during grading "
                           "(os._exit, a crash or a signal); the autograder skipped it.')")
            return cell.metadata.get("nbgrader", {}).get("grade_id") or f"#{index + 1}"
    return None


def read_scores(db: Path, lab: str, student: str) -> tuple[dict, dict]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        nb = gb.find_submission_notebook(lab, lab, student)
        scores = {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades}
        comments = {c.name: c.auto_comment for c in nb.comments}
    return scores, comments


def integrity(marker: Path, key: bytes, grade_ids: list[str]) -> tuple[list[str], list[str], list[str], dict]:
    """What the guard's signed records of one attempt say: (tampering evidence, programs stopped, notes,
    :func:`instructor.guard.verify`'s summary)."""
    from .. import guard

    records, problems = guard.read_records(str(marker / "records"), key)
    seen = guard.verify(records, grade_ids)
    evidence = problems + seen["violations"]
    programs = []
    for kind, what, _cell in seen["stopped"]:
        if kind == "program":
            programs.append(what)
        else:
            evidence.append(f"student code used {what}")
    return evidence, programs, [f"guard: {e}" for e in seen["guard_errors"]], seen


def graded_part(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list]:
    """(the notebook up to its last grade cell, the cells after it).

    What follows the last test earns no points (the labs' key experiments), so grading does not run
    it: that is most of a lab's quick-mode time. The cells come back, unexecuted, in the feedback.
    """
    copy = nbformat.from_dict(nb)
    grades = [i for i, c in enumerate(copy.cells) if c.metadata.get("nbgrader", {}).get("grade")]
    if not grades:
        return copy, []
    cut = grades[-1] + 1
    trailing = [c for c in copy.cells[cut:]]
    for cell in trailing:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    copy.cells = copy.cells[:cut]
    return copy, trailing


def run_task(task: Task) -> TaskResult:
    """Grade one submission in a temporary course folder of its own (runs on a Dask worker).

    The kernel runs in the sandbox with the integrity guard (:mod:`instructor.guard`); after nbgrader
    has scored the notebook, the guard's signed records decide whether the scores can be believed: a
    passing grade cell that did not run as written, a replaced comparison function or shell method, a
    forged or missing record, or a blocked action make the submission "tampering" with score 0.
    """
    from .. import guard
    from ..notebooks import dumps

    start = time.perf_counter()
    lab, student, limits = task.lab, task.student, task.limits
    notes, status, neutralized = [], "graded", None
    evidence: list[str] = []
    nb = nbformat.reads(task.notebook, as_version=4)
    grade_ids = [c["grade_id"] for c in task.cells if c.get("grade")]
    with tempfile.TemporaryDirectory(prefix=f"course-task-{lab}-") as tmp:
        root = Path(tmp) / "course"
        submitted = root / "submitted" / student / lab / f"{lab}.ipynb"
        submitted.parent.mkdir(parents=True)
        (root / "gradebook.db").write_bytes(task.template_db)
        hide = hidden_paths(root, student) + [p for p in task.hide if os.path.exists(p)]
        for attempt in range(4):
            graded_nb, trailing = graded_part(nb)
            graded_nb.cells.append(nbformat.v4.new_code_cell(guard.END_CELL))
            submitted.write_text(dumps(graded_nb))
            workdir = Path(tmp) / f"attempt{attempt}"
            key = os.urandom(32)
            code, output = run_nbgrader_autograde(lab, student, root, limits, workdir, hide, task.cells, key)
            marker = workdir / "marker"
            isolation = (marker / "isolation").read_text().strip() if (marker / "isolation").exists() else ""
            if not isolation.startswith("bubblewrap") and not any("isolation" in n for n in notes):
                notes.append(f"isolation: {isolation or 'unknown (the kernel did not start)'}")
            crashed_cell = (marker / "cell").read_text().strip() if (marker / "cell").exists() else ""
            autograded = root / "autograded" / student / lab / f"{lab}.ipynb"
            if code is None:
                return TaskResult(lab, student, "timed out", f"the notebook ran past its limit of "
                                  f"{limits.notebook_seconds:g} s", notes, neutralized=neutralized,
                                  seconds=time.perf_counter() - start)
            found, programs, guard_notes, seen = integrity(marker, key, grade_ids)
            notes += guard_notes
            if code == 0 and autograded.exists():
                break
            if "DeadKernelError" in output and crashed_cell and attempt < 3:
                evidence += found
                label = neutralize_cell(nb, crashed_cell)
                if label:
                    status, neutralized = "crashed", dumps(nb)
                    if programs:
                        notes.append(f"cell {label} started a program ({programs[-1][:80]}), which grading does "
                                     "not allow; that cell was skipped")
                    elif found:
                        notes.append(f"cell {label} used what only an attack on the grader needs; that cell was skipped")
                    else:
                        notes.append(f"the kernel died in cell {label}; that cell was skipped")
                    continue
            return TaskResult(lab, student, "crashed", last_error_line(output), notes, neutralized=neutralized,
                              seconds=time.perf_counter() - start)
        evidence += found
        if not seen["ended"]:
            evidence.append("the notebook never reached the grader's closing check (cell execution was diverted)")
        evidence += [f"grade cell {g} did not run as written" for g in seen["unverified"]]
        graded = nbformat.read(autograded, as_version=4)
        if graded.cells and graded.cells[-1].cell_type == "code" and graded.cells[-1].source == guard.END_CELL:
            graded.cells.pop()  # the closing check is the grader's, not the student's
        graded.cells += trailing  # the experiment after the last test, as handed in (not run)
        timed_out, memory = runtime_notes(graded)
        if timed_out:
            status = "timed out" if status == "graded" else status
            notes.append(f"cell time limit hit in {', '.join(timed_out)}")
        if memory:
            notes.append(f"memory limit hit in {', '.join(memory)}")
        scores, comments = read_scores(root / "gradebook.db", lab, student)
        detail = ""
        if evidence:
            status, detail = "tampering", "integrity: " + "; ".join(dict.fromkeys(evidence))[:600]
            scores = {name: (0.0, manual) for name, (_, manual) in scores.items()}
        return TaskResult(lab, student, status, detail, notes, dumps(graded), scores, comments,
                          neutralized, time.perf_counter() - start)


def nbgrader(*args: str, root: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args> --CourseDirectory.root=<root>`` from the repository root (its config applies)."""
    cmd = [*NBGRADER, *args, f"--CourseDirectory.root={root}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=tool_env())
    check_config_loaded(proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc
