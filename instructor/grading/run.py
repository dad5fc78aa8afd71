"""Stage 3, run: one submission executed in the sandbox kernel, then judged here, outside it.

Takes a :class:`~instructor.grading.types.Task` and gives a :class:`~instructor.grading.types.TaskResult`:

1. the graded part of the notebook (up to its last grade cell; locked cells as released, so the grade
   cells hold the *visible* tests only) runs through nbclient in the sandbox kernel
   (:mod:`instructor.sandbox_kernel`), in an empty scratch folder of its own;
2. the lab's probe (:mod:`instructor.grading.probes`) is appended as one last cell with a seed offset
   chosen here, per submission; it reports data, published once as the cell's output;
3. :mod:`instructor.grading.checks` judges that data against the solution's (the lab's reference) and
   gives every grade cell its points. nbgrader's reading of the outputs plays no part, so nothing the
   student's process prints, skips or patches can decide a score.

The grader reads nothing from the kernel's folders: results travel as messages. A cell that kills the
kernel (``os._exit``, a segfault) is replaced by a ``raise`` and the notebook runs again, at most three
times; past the notebook's time limit the submission is "timed out".
"""
from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..notebooks import ROOT
from . import checks, diagnose
from .notes import note
from .probes import Probe
from .types import Limits, Status, Task, TaskResult

PROBE_TAG = "course-probe"
NEUTRALIZED = ("raise RuntimeError('This cell stopped the Python kernel during grading "
               "(os._exit, a crash or a signal); the autograder skipped it.')")


class SandboxUnavailable(RuntimeError):
    """The sandbox refused to start (bubblewrap missing): an instructor-side fault."""


def warm_of(source_nb: nbformat.NotebookNode) -> tuple[str, ...]:
    """What a zygote may import ahead for this lab: the framework modules of its (locked) setup cell."""
    from ..zygote import warm_modules

    setup = next((c.source for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"), "")
    return warm_modules(setup)


def loaded_modules(cell: nbformat.NotebookNode) -> list[str]:
    """The framework modules a run had loaded, from its :data:`~instructor.zygote.LOADED_REPORT` cell
    (the solution's own run: trusted); empty when the cell published none."""
    from .. import zygote

    for out in cell.get("outputs", []):
        names = out.get("data", {}).get(zygote.LOADED_MIME)
        if isinstance(names, list):
            return [n for n in names if isinstance(n, str)]
    return []


def warm_for(task_warm: tuple[str, ...], ref: dict) -> tuple[str, ...]:
    """A task's zygote modules: the setup cell's, then what the solution's reference run loaded."""
    from .. import zygote

    return zygote.ahead(task_warm, ref.get("loaded"))


def thread_env(limits: Limits) -> dict:
    """The CPU-thread variables of a kernel: kernels graded side by side share the cores instead of
    oversubscribing them."""
    if not limits.threads:
        return {}
    env = {name: str(limits.threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                     "TF_NUM_INTRAOP_THREADS")}
    return {**env, "TF_NUM_INTEROP_THREADS": "1"}


def write_sandbox_kernel(workdir: Path, limits: Limits, attach_to: str | None = None) -> tuple[Path, Path, dict]:
    """A kernelspec ``course-sandbox`` under ``workdir/kernels``: (kernels folder, scratch folder, env).

    The sandbox spec (limits, the two writable folders) goes into a file that the launcher reads and
    deletes before the kernel starts (see :mod:`instructor.sandbox_kernel`). ``attach_to``: the socket of
    a warm zygote (:mod:`instructor.zygote`) that forks the kernel instead.
    """
    from ..sandbox_kernel import Spec

    scratch, runtime = workdir / "scratch", workdir / "runtime"
    for folder in (scratch, runtime):
        folder.mkdir(parents=True, exist_ok=True)
    spec_path = workdir / "sandbox-spec.json"
    Spec(limits.memory_mb, limits.file_mb, [str(scratch), str(runtime)], limits.isolate).write(str(spec_path))
    # NBGRADER_EXECUTION: what nbgrader sets under autograde, and what the labs read to run in quick mode
    # (course_utils.runtime.resolve_mode), whatever MODE the notebook says
    env = {"COURSE_SANDBOX_SPEC": str(spec_path), "PYTHONPATH": str(ROOT), "NBGRADER_EXECUTION": "autograde",
           **thread_env(limits)}
    kernel_dir = workdir / "kernels" / "course-sandbox"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    launcher = ["instructor.zygote", "attach", attach_to] if attach_to else ["instructor.sandbox_kernel"]
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", *launcher, "-f", "{connection_file}"],
        "display_name": "Python 3 (course grading sandbox)", "language": "python",
        # bubblewrap does not forward SIGINT: a timed-out cell is interrupted by a control message
        "interrupt_mode": "message", "env": env}, indent=1))
    return workdir / "kernels", scratch, env


async def responsive(client, seconds: float = 10) -> bool:
    """Whether the kernel still answers a ``kernel_info`` request (after an interrupted cell)."""
    import queue

    msg_id = client.kc.kernel_info()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reply = await client.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        except (queue.Empty, TimeoutError):
            return False
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            return True
    return False


def execute(nb: nbformat.NotebookNode, limits: Limits, workdir: Path,
            warm: tuple[str, ...] = ()) -> tuple[int | None, bool, list[int]]:
    """Run ``nb`` in place in a fresh sandbox kernel: (index of the cell that killed the kernel or None,
    whether the notebook's time limit ran out, indices of the cells stopped at the cell time limit).

    ``warm``: modules a zygote may import ahead (:func:`instructor.zygote.warm_modules` of the lab's setup
    cell); the kernel is then forked from this thread's zygote, when one can start (else it starts cold).
    """
    from .. import zygote

    warm_one = zygote.for_this_thread(warm, thread_env(limits)) if warm and limits.isolate else None
    if warm_one is None:
        return _execute(nb, limits, workdir, None)
    with warm_one.job_folder() as job:
        try:
            return _execute(nb, limits, Path(job), warm_one.sock)
        except SandboxUnavailable:  # the zygote could not be reached (a kernel before broke it): start cold
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
    return _execute(nb, limits, workdir, None)


async def _shut_down(km) -> None:
    """nbclient shuts down only kernels it created itself: this one is ours. A kernel that died at start
    (nbclient closed its channels) is killed."""
    if km.has_kernel:
        try:
            await km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001
            if km.has_kernel:
                await km.provisioner.kill()
                await km.provisioner.wait()


def _execute(nb: nbformat.NotebookNode, limits: Limits, workdir: Path,
             attach_to: str | None) -> tuple[int | None, bool, list[int]]:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    kernels, scratch, _ = write_sandbox_kernel(workdir, limits, attach_to)
    specs = KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)
    km = AsyncKernelManager(kernel_name="course-sandbox", kernel_spec_manager=specs, transport="ipc",
                       connection_file=str(workdir / "runtime" / "kernel.json"))
    cell_limit = limits.cell_seconds
    client = NotebookClient(nb, km=km, timeout=cell_limit, allow_errors=True, interrupt_on_timeout=True,
                            error_on_timeout={"ename": "CellTimeoutError", "evalue": "the cell ran past its time limit",
                                              "traceback": []}, startup_timeout=120, shutdown_kernel="immediate",
                            skip_cells_with_tag="__never__")
    deadline = time.monotonic() + limits.notebook_seconds
    stopped: list[int] = []

    async def cells() -> tuple[int | None, bool]:
        try:
            return await run_cells()
        finally:
            await _shut_down(km)

    async def run_cells() -> tuple[int | None, bool]:
        with (workdir / "kernel.log").open("wb") as log:
            async with client.async_setup_kernel(cwd=str(scratch), stdout=subprocess.DEVNULL, stderr=log):
                for index, cell in enumerate(nb.cells):
                    remaining = deadline - time.monotonic()
                    if remaining <= 1:
                        return None, True
                    client.timeout = int(max(1, min(cell_limit, remaining)))
                    began = time.monotonic()
                    try:
                        await client.async_execute_cell(cell, index)
                    except DeadKernelError:
                        return index, False
                    if time.monotonic() - began >= client.timeout:  # nbclient interrupted it
                        stopped.append(index)
                        cell.outputs.append(nbformat.v4.new_output(
                            "error", ename="CellTimeoutError", traceback=[],
                            evalue=f"the cell ran past its time limit of {client.timeout} s and was interrupted"))
                        if not await responsive(client):
                            return None, True  # interrupted but deaf (student code broke the kernel): stop here
        return None, time.monotonic() > deadline

    # a loop of its own: grading threads (Dask workers) must not share jupyter_core's per-thread loops
    try:
        died, out_of_time = asyncio.run(cells())
    except DeadKernelError:
        return 0, False, stopped
    except RuntimeError as err:  # the kernel did not start (the sandbox refused, or a startup timeout)
        if "died" in str(err) or "didn't respond" in str(err):
            raise SandboxUnavailable(str(err)[:300]) from None
        raise
    return died, out_of_time, stopped


def runtime_notes(nb: nbformat.NotebookNode) -> tuple[list[str], list[str]]:
    """(cells that hit the time limit, cells that hit the memory limit) in an executed notebook."""
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


def verdict_output(verdict: checks.Verdict, points: float) -> nbformat.NotebookNode:
    """The grader's word on one grade cell, shown under it in the feedback."""
    text = (f"autograder: {verdict.points:g} / {points:g} — every check of this cell passed (visible and hidden)\n"
            if verdict.passed else f"autograder: 0 / {points:g} — {verdict.message}\n")
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def annotate(nb: nbformat.NotebookNode, probe: Probe, verdicts: list, diagnoses: list) -> None:
    """The grader's verdict under every grade cell; a diagnosis under the first failed cell of its exercise."""
    by_id = {v.grade_id: v for v in verdicts}
    failed_first = {}
    for d in diagnoses:
        cells = probe.phase_grades(probe.exercises.index(d.exercise))
        failed_first[next(g for g in cells if g in by_id and not by_id[g].passed)] = d
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in by_id:
            cell.outputs.append(verdict_output(by_id[grade_id], probe.points[grade_id]))
        if grade_id in failed_first:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=failed_first[grade_id].text()))


def trim_outputs(nb: nbformat.NotebookNode) -> None:
    """Megabytes of printed output cut to a readable size (nbgrader's LimitOutput for lines, the course's
    TrimOutputs for characters), as nbgrader_config.py configures them for feedback."""
    from nbgrader.preprocessors import LimitOutput

    from ..nbgrader_plugins import TrimOutputs

    for preprocessor in (TrimOutputs(max_chars=20000), LimitOutput(max_lines=1000, max_traceback=100)):
        preprocessor.preprocess(nb, {})


def _label(nb: nbformat.NotebookNode, index: int) -> str:
    return nb.cells[index].metadata.get("nbgrader", {}).get("grade_id") or f"#{index + 1}"


@dataclass
class Attempts:
    """Where running one submission ended: the executed graded part (probe cells included), the index of
    its first probe cell, the cell that killed the kernel (None: none did), and what the run changed."""
    nb: nbformat.NotebookNode | None = None
    first_probe: int = 0
    died: int | None = None
    status: Status = Status.GRADED
    detail: str = ""
    notes: list = field(default_factory=list)
    neutralized: str | None = None   # the submission with its kernel-killing cells replaced


def run_attempts(nb: nbformat.NotebookNode, probe: Probe, offset: int, nonce: str, limits: Limits,
                 workdir: Path, warm: tuple[str, ...] = ()) -> Attempts:
    """Execute the graded part of ``nb`` with the probe appended; a cell that kills the kernel is replaced
    by a ``raise`` and the notebook runs again, at most four times in all."""
    from ..notebooks import dumps

    out = Attempts()
    for attempt in range(4):
        graded_nb, _ = graded_part(nb)
        out.nb, out.first_probe = graded_nb, len(graded_nb.cells)
        graded_nb.cells += [nbformat.v4.new_code_cell(text, metadata={"tags": [PROBE_TAG]})
                            for text in probe.cell_sources([offset], nonce)]
        try:
            out.died, out_of_time, _ = execute(graded_nb, limits, workdir / f"attempt{attempt}", warm)
        except SandboxUnavailable as err:
            out.status, out.detail, out.nb = Status.CRASHED, f"the grading sandbox did not start: {err}", None
            return out
        if out_of_time:
            out.status, out.nb = Status.TIMED_OUT, None
            out.detail = f"the notebook ran past its limit of {limits.notebook_seconds:g} s"
            return out
        if out.died is None:
            return out
        if out.died >= out.first_probe:
            out.notes.append(note("kernel-died-in-checks", "the kernel died while the grader's checks ran (student "
                                  "code called by a test stopped the process); no check could be scored"))
            return out
        label = _label(graded_nb, out.died)
        if attempt == 3:
            out.status, out.detail, out.nb = Status.CRASHED, f"the kernel died in cell {label}", None
            return out
        nb.cells[out.died].source = NEUTRALIZED
        out.status, out.neutralized = Status.CRASHED, dumps(nb)
        out.notes.append(note("kernel-died", f"the kernel died in cell {label}; that cell was skipped"))
    return out


def run_task(task: Task) -> TaskResult:
    """Execute one submission in the sandbox and judge its probe data (runs on a Dask worker)."""
    from ..notebooks import dumps

    start = time.perf_counter()
    probe: Probe = task.probe
    offsets = sorted(int(o) for o in task.reference["runs"])
    offset = offsets[secrets.randbelow(len(offsets))]
    nonce = secrets.token_hex(16)
    nb = nbformat.reads(task.notebook, as_version=4)
    with tempfile.TemporaryDirectory(prefix=f"course-task-{task.lab}-") as tmp:
        got = run_attempts(nb, probe, offset, nonce, task.limits, Path(tmp), task.warm)
    notes = got.notes
    if got.nb is None:  # timed out, or it cannot run: no score
        return TaskResult(task.lab, task.student, got.status, got.detail, notes, neutralized=got.neutralized,
                          seconds=time.perf_counter() - start)
    graded_nb, trailing = got.nb, graded_part(nb)[1]
    probe_cells, graded_nb.cells = graded_nb.cells[got.first_probe:], graded_nb.cells[:got.first_probe]
    doc, problems = checks.read_cells(probe_cells, nonce)
    if problems and got.died is None:
        notes.append(note("checks-unusable", f"the grader's checks reported nothing usable from {len(problems)} "
                                               f"of {len(probe_cells)} exercises: {problems[0]}"))
    verdicts = checks.judge(probe, doc, task.reference, offset)
    began = time.perf_counter()
    diagnoses = diagnose.diagnose(probe, doc, task.reference, task.catalogue, offset, verdicts)
    diagnosis_seconds = time.perf_counter() - began
    annotate(graded_nb, probe, verdicts, diagnoses)
    timed_out, memory = runtime_notes(graded_nb)
    status = Status.TIMED_OUT if timed_out and got.status is Status.GRADED else got.status
    notes += [note("cell-time-limit", f"cell time limit hit in {', '.join(timed_out)}")] if timed_out else []
    notes += [note("memory-limit", f"memory limit hit in {', '.join(memory)}")] if memory else []
    graded_nb.cells += trailing  # the experiment after the last test, as handed in (not run)
    trim_outputs(graded_nb)
    return TaskResult(task.lab, task.student, status, got.detail, notes, dumps(graded_nb),
                      {v.grade_id: (v.points, False) for v in verdicts}, {}, got.neutralized,
                      time.perf_counter() - start, diagnose.as_rows(diagnoses), diagnosis_seconds)


REFERENCE_OFFSETS = 3


def reference(lab: str, source_nb: nbformat.NotebookNode, probe: Probe, limits: Limits, cache: Path) -> dict:
    """The solution's probe data at ``REFERENCE_OFFSETS`` secret seed offsets, computed once per lab in a
    clean sandbox kernel and cached in ``cache`` (a folder no kernel can see) under the probe's digest.

    Every offset's run must pass its own checks; one that does not is left out, and a lab where none
    does (or whose solution does not run) stops grading with a :class:`~instructor.grading.types.CourseError`.
    """
    from .. import zygote
    from .record import cached_json, store_json
    from .types import CourseError

    path = cache / f"reference-{probe.digest[:16]}.json"
    cached = cached_json(path)
    if cached is not None:
        return cached
    offsets = sorted({secrets.randbelow(900_000) + 100_000 for _ in range(REFERENCE_OFFSETS)})
    nonce = secrets.token_hex(16)
    solution, _ = graded_part(source_nb)
    first_probe = len(solution.cells)
    solution.cells += [nbformat.v4.new_code_cell(text) for text in probe.cell_sources(offsets, nonce, reference=True)]
    solution.cells.append(nbformat.v4.new_code_cell(zygote.LOADED_REPORT))
    with tempfile.TemporaryDirectory(prefix=f"course-reference-{lab}-") as tmp:
        died, out_of_time, _ = execute(solution, limits, Path(tmp), warm_of(source_nb))
    failure = (f"the kernel died in cell {_label(solution, died)}" if died is not None else
               "it ran past the time limit" if out_of_time else "")
    doc, problems = checks.read_cells(solution.cells[first_probe:-1], nonce)
    if problems:
        failure = failure or problems[0]
    if failure:
        doc = None
    if doc is None:
        errors = [f"{_label(solution, i)}: {o.ename}: {o.evalue}"[:300] for i, c in enumerate(solution.cells)
                  if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
        raise CourseError(f"{lab}: the solution's checks could not be computed ({failure}); "
                          f"errors: {errors[:3] or 'none'}. Run `make execute LABS={lab}` and fix the source.")
    ref, problems = checks.self_check(probe, doc)
    if not ref["runs"]:
        raise CourseError(f"{lab}: the solution fails its own checks at every seed offset: {problems[:2]}. "
                          "A test that holds only for the notebook's own seeds must be made seed-independent.")
    ref["problems"] = problems
    ref["loaded"] = loaded_modules(solution.cells[-1])
    store_json(path, ref)
    return ref
