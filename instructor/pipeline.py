"""The instructor's steps, each a function the CLI (``python -m instructor``) and the tests call.

Every nbgrader step runs the ``nbgrader`` command of this environment in the repository root, so
``nbgrader_config.py`` applies; ``root`` selects the course folder (the repository for a real class,
``build/demo_class`` for the demo, a temporary folder in the tests).
"""
from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .notebooks import ROOT, dumps, labs, source_notebook

BUILD = ROOT / "build"
NBGRADER = [sys.executable, "-m", "nbgrader"]


# ---------------------------------------------------------------- executing the solution notebooks
def execute(lab: str, mode: str = "quick", output_dir: Path = BUILD / "executed",
            extra_parameters: dict | None = None) -> float:
    """Run a lab's solution notebook with papermill in ``mode``; returns the wall time in seconds.

    The executed copy (with outputs and plots) is written to ``output_dir/<lab>.ipynb``. Raises
    ``papermill.PapermillExecutionError`` naming the failing cell when a cell errors.
    """
    import papermill

    output_dir.mkdir(parents=True, exist_ok=True)
    parameters = {"MODE": mode, **(extra_parameters or {})}
    start = time.perf_counter()
    papermill.execute_notebook(str(source_notebook(lab)), str(output_dir / f"{lab}.ipynb"),
                               parameters=parameters, cwd=str(source_notebook(lab).parent),
                               kernel_name="python3", progress_bar=False, log_output=False)
    return time.perf_counter() - start


def reference_parameters(lab: str, reference_dir: Path | None) -> dict:
    """Extra parameters for labs that write cross-framework artifacts (they declare REFERENCE_DIR)."""
    nb = nbformat.read(source_notebook(lab), as_version=4)
    declares = any("parameters" in c.metadata.get("tags", []) and "REFERENCE_DIR" in c.source
                   for c in nb.cells)
    return {"REFERENCE_DIR": str(reference_dir)} if declares and reference_dir is not None else {}


# ------------------------------------------------------------------------------------ nbgrader
def check_config_loaded(log: str) -> None:
    """nbgrader only logs a config file that fails to load and goes on without it: stop instead."""
    if "loading config file" in log.lower():
        raise RuntimeError(f"nbgrader could not load nbgrader_config.py:\n{log[-2000:]}")


def tool_env() -> dict:
    """The environment with this interpreter's bin/ first on PATH (nbgrader calls ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def nbgrader(*args: str, root: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args> --CourseDirectory.root=<root>`` from the repository root."""
    cmd = [*NBGRADER, *args, f"--CourseDirectory.root={root}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=tool_env())
    check_config_loaded(proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def release(root: Path = ROOT, only: list[str] | None = None) -> list[Path]:
    """``nbgrader generate_assignment`` for every lab of ``root/source``; returns the student notebooks.

    Each release is checked for leaks (solution or hidden-test markers) before it is accepted.
    """
    written = []
    for lab in only or labs(root):
        nbgrader("generate_assignment", lab, "--force", root=root)
        notebook = root / "release" / lab / f"{lab}.ipynb"
        text = notebook.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            if marker in text:
                raise RuntimeError(f"{notebook} still contains {marker!r}: a solution or hidden test leaked")
        written.append(notebook)
    return written


def autograde(lab: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    """Autograde every submission of ``lab``. nbgrader goes on past a failing student and exits 1."""
    return nbgrader("autograde", lab, "--force", root=root, check=False)


def feedback(lab: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    return nbgrader("generate_feedback", lab, "--force", root=root, check=False)


def export(root: Path = ROOT, to: Path | None = None) -> Path:
    """Grades of every student and lab as CSV (nbgrader's export format)."""
    to = to or root / "grades.csv"
    nbgrader("export", f"--to={to}", root=root)
    return to


def collect(downloads: Path, lab: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    """Copy an LMS download (zips, folders, renamed notebooks) into nbgrader's ``submitted/``.

    Uses nbgrader's ``zip_collect`` with :class:`instructor.collect.LmsCollector`.
    """
    archive = root / "downloaded" / lab / "archive"
    if archive.exists():
        shutil.rmtree(archive)
    shutil.copytree(downloads, archive)
    extracted = root / "downloaded" / lab / "extracted"
    return nbgrader("zip_collect", lab, "--force", "--strict",
                    "--ZipCollectApp.collector_plugin=instructor.collect.LmsCollector",
                    f"--LmsCollector.notebook={lab}.ipynb", f"--LmsCollector.extracted_root={extracted}",
                    root=root)


def skipped_downloads(log: str) -> list[str]:
    """The files zip_collect passed over (not a notebook, no student id), from its log."""
    return [line.split("] ", 1)[-1].strip() for line in log.splitlines() if "Skipped" in line]


# ------------------------------------------------------------------------------------ grade table
@dataclass
class Grade:
    student: str
    lab: str
    score: float
    max_score: float


def grades(root: Path = ROOT) -> list[Grade]:
    """Every (student, lab) pair of the gradebook, 0 for a lab a student has no submission of."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for assignment in gb.assignments:
            for student in gb.students:
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                    score = sub.score
                except MissingEntry:
                    score = 0.0
                rows.append(Grade(student.id, assignment.name, score, assignment.max_score))
    return sorted(rows, key=lambda g: (g.student, g.lab))


def grade_table(rows: list[Grade]) -> str:
    """Students as rows, labs as columns, 'score/max'."""
    lab_ids = sorted({g.lab for g in rows})
    students = sorted({g.student for g in rows})
    cell = {(g.student, g.lab): f"{g.score:g}/{g.max_score:g}" for g in rows}
    width = max([len("student")] + [len(s) for s in students]) + 2
    cols = [max(len(lab), 7) + 2 for lab in lab_ids]
    lines = ["student".ljust(width) + "".join(lab.ljust(w) for lab, w in zip(lab_ids, cols))]
    for s in students:
        lines.append(s.ljust(width) + "".join(cell.get((s, lab), "-").ljust(w) for lab, w in zip(lab_ids, cols)))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ demo class
def grade_id_of(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solution_cell_ids(nb: nbformat.NotebookNode) -> list[str]:
    return [grade_id_of(c) for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]


def partial_submission(source: nbformat.NotebookNode, released: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release notebook with only the FIRST exercise answered (its solution cell from the source).

    Course rule (tests/test_labs.py checks it): the grade cells between solution cell k and solution
    cell k+1 test exercise k only, so this submission earns exactly their points.
    """
    first = solution_cell_ids(source)[0]
    answer = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == first)
    nb = nbformat.from_dict(released)
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == first:
            nb.cells[i] = nbformat.from_dict(answer)
    return nb


def points_of_first_exercise(source: nbformat.NotebookNode) -> float:
    """Points of the grade cells that follow the first solution cell and precede the second."""
    total, seen = 0.0, 0
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            seen += 1
            if seen == 2:
                break
        elif meta.get("grade") and seen == 1:
            total += meta.get("points", 0)
    return total


DEMO_STUDENTS = ("demo-solution", "demo-untouched", "demo-partial")


def build_demo_class(root: Path, only: list[str] | None = None) -> Path:
    """A fresh course folder with the labs released and three synthetic students' submissions."""
    if root.exists():
        shutil.rmtree(root)
    (root / "source").mkdir(parents=True)
    chosen = only or labs()
    for lab in chosen:
        shutil.copytree(ROOT / "source" / lab, root / "source" / lab)
    release(root, chosen)
    for lab in chosen:
        source = nbformat.read(root / "source" / lab / f"{lab}.ipynb", as_version=4)
        released = nbformat.read(root / "release" / lab / f"{lab}.ipynb", as_version=4)
        for student, nb in zip(DEMO_STUDENTS, (source, released, partial_submission(source, released))):
            target = root / "submitted" / student / lab / f"{lab}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(dumps(nb))
    return root


STATUSES = ("graded", "timed out", "crashed", "unreadable", "tampering")


@dataclass
class Outcome:
    """What happened to one submission. ``status`` is one of STATUSES; ``notes`` say what was done."""
    student: str
    lab: str
    status: str
    detail: str = ""
    notes: tuple = ()


@dataclass
class Limits:
    """What student code may use while it is graded (see README, 'Grading safely')."""
    notebook_seconds: float = 900   # the whole notebook
    cell_seconds: int | None = None  # one cell; None: Execute.timeout of nbgrader_config.py (120 s)
    memory_mb: int = 12288          # address space of the kernel (torch + TF need ~4 GB of it)
    file_mb: int = 1024             # largest file the kernel may write
    isolate: bool = True            # hide the gradebook, source/ and other students' work


def last_error_line(text: str) -> str:
    """The final 'SomeError: message' line of nbgrader's log, or its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", ln)]
    return (errors or lines or ["no output"])[-1][:300]


def hidden_paths(root: Path, student: str) -> list[str]:
    """What one student's kernel must not see: grading state, instructor files, other students."""
    names = ("source", "release", "submitted", "feedback", "downloaded", "quarantine",
             "gradebook.db", "grades.csv", "grading.log")
    paths = [root / n for n in names]
    if (root / "autograded").is_dir():
        paths += [d for d in (root / "autograded").iterdir() if d.name != student]
    if root.resolve() != ROOT:
        paths += [ROOT / n for n in ("source", "submitted", "autograded", "feedback", "gradebook.db")]
    paths += [ROOT / ".git", BUILD]
    return [str(p) for p in paths if p.exists()]


def write_sandbox_kernel(workdir: Path, root: Path, student: str, limits: Limits) -> Path:
    """A kernelspec ``course-sandbox`` under ``workdir/kernels`` (put ``workdir`` on JUPYTER_PATH)."""
    marker_dir = workdir / "marker"
    marker_dir.mkdir(parents=True, exist_ok=True)
    spec = {"memory_mb": limits.memory_mb, "file_mb": limits.file_mb, "marker_dir": str(marker_dir),
            "hide": hidden_paths(root, student) if limits.isolate else []}
    kernel_dir = workdir / "kernels" / "course-sandbox"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "instructor.sandbox_kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (course grading sandbox)", "language": "python",
        "env": {"COURSE_SANDBOX": json.dumps(spec), "PYTHONPATH": str(ROOT)},
    }, indent=1))
    return marker_dir


def ensure_student(root: Path, student: str, lab: str) -> None:
    """Give a submission that will not run a gradebook row with 0 (and drop an older autograde)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(lab, student)
        except MissingEntry:
            pass
    shutil.rmtree(root / "autograded" / student / lab, ignore_errors=True)


def find_submitted_notebook(folder: Path, lab: str) -> tuple[Path | None, str]:
    """The lab notebook in a student's folder, renaming a lone 'Copy of …'/'… (1)' to the canonical name."""
    canonical = folder / f"{lab}.ipynb"
    if canonical.exists():
        return canonical, ""
    candidates = sorted(folder.glob("*.ipynb"))
    if len(candidates) == 1:
        candidates[0].rename(canonical)
        return canonical, f"renamed {candidates[0].name!r} to {canonical.name!r}"
    return None, (f"no notebook {canonical.name!r} in the submission"
                  + (f" (found {[c.name for c in candidates]})" if candidates else ""))


def repair_structure(nb: nbformat.NotebookNode, released: nbformat.NotebookNode) -> list[str]:
    """Undo what breaks nbgrader before it sees the notebook; returns notes on what was repaired.

    * duplicated cells: the last copy counts (see below);
    * nbgrader metadata without a ``grade_id`` (pasted or edited cells) is dropped: nbgrader would
      stop with ``KeyError: 'grade_id'``;
    * a cell of the release whose type the student changed gets its type back (nbgrader fails on a
      raw cell and only handles code/markdown);
    * every locked cell of the release that the submission lacks is put back after its predecessor.
      nbgrader's ``add_missing_cells`` only re-inserts graded cells and crashes (KeyError) when the
      cell before a deleted test is a locked helper cell rather than a solution or test cell.
    """
    kinds = {grade_id_of(c): c.cell_type for c in released.cells if grade_id_of(c)}
    locked = {grade_id_of(c) for c in released.cells if c.metadata.get("nbgrader", {}).get("locked")}
    # Duplicates: the last copy counts. Earlier copies of a locked cell go (the gradebook's version
    # runs); earlier copies of an answer stay as plain student code. (nbgrader's DeduplicateIds
    # leaves them with empty nbgrader metadata, which its add_missing_cells then trips over.)
    seen, doubled, kept = set(), [], []
    for cell in reversed(nb.cells):
        grade_id = grade_id_of(cell)
        if grade_id and grade_id in seen:
            doubled.append(grade_id)
            if grade_id in locked:
                continue
            del cell.metadata["nbgrader"]
        seen.add(grade_id)
        kept.append(cell)
    nb.cells = kept[::-1]
    dropped, retyped = 0, []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is not None and not meta.get("grade_id"):
            del cell.metadata["nbgrader"]
            dropped += 1
        wanted = kinds.get(grade_id_of(cell))
        if wanted and cell.cell_type != wanted:
            retyped.append(grade_id_of(cell))
            cell.cell_type = wanted
            if wanted == "code":
                cell.outputs, cell.execution_count = [], None
            else:
                cell.pop("outputs", None), cell.pop("execution_count", None)
    present = {grade_id_of(c) for c in nb.cells}
    order = [grade_id_of(c) for c in released.cells]
    restored = []
    for index, cell in enumerate(released.cells):
        grade_id = grade_id_of(cell)
        if grade_id is None or grade_id in present or not cell.metadata["nbgrader"].get("locked"):
            continue
        earlier = set(order[:index])
        position = max((j + 1 for j, c in enumerate(nb.cells) if grade_id_of(c) in earlier), default=0)
        copy = nbformat.from_dict(cell)
        copy["id"] = f"restored-{grade_id.replace('_', '-')}"
        nb.cells.insert(position, copy)
        present.add(grade_id)
        restored.append(grade_id)
    notes = []
    if doubled:
        notes.append(f"duplicated cells (the last copy counts): {', '.join(sorted(set(doubled)))}")
    if restored:
        notes.append(f"restored deleted locked cells: {', '.join(restored)}")
    if retyped:
        notes.append(f"cell type changed back: {', '.join(retyped)}")
    if dropped:
        notes.append(f"ignored nbgrader metadata without grade_id on {dropped} cell(s)")
    return notes


def deleted_answers(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """Answers the student deleted (their tests will fail)."""
    present = {grade_id_of(c) for c in nb.cells}
    absent = [g for g in solution_cell_ids(source) if g not in present]
    return [f"solution cells deleted (their tests fail): {', '.join(absent)}"] if absent else []


def run_nbgrader_autograde(lab: str, student: str, root: Path, limits: Limits, workdir: Path):
    """One ``nbgrader autograde`` of one student in the sandbox kernel: (exit code or None on timeout, log)."""
    write_sandbox_kernel(workdir, root, student, limits)
    env = tool_env()
    env["JUPYTER_PATH"] = os.pathsep.join([str(workdir), env.get("JUPYTER_PATH", "")])
    cmd = [*NBGRADER, "autograde", lab, f"--student={student}", "--force", f"--CourseDirectory.root={root}",
           "--Execute.kernel_name=course-sandbox"]
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


def runtime_notes(autograded: Path) -> tuple[list[str], list[str]]:
    """(cells that hit the time limit, cells that hit the memory limit) in an autograded notebook."""
    timed_out, memory = [], []
    nb = nbformat.read(autograded, as_version=4)
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


def autograde_student(lab: str, student: str, root: Path, limits: Limits | None = None) -> Outcome:
    """Grade one submission without ever losing it: every path ends with a gradebook row and an Outcome.

    Unreadable files and tampering are decided before any student code runs. A cell that kills the
    kernel is replaced by a ``raise`` (the original is kept in ``quarantine/``) and the notebook is
    graded again, at most three times.
    """
    from .safety import check_readable, find_tampering

    limits = limits or Limits()
    notes = []
    path, why = find_submitted_notebook(root / "submitted" / student / lab, lab)
    if why:
        notes.append(why)
    if path is None:
        ensure_student(root, student, lab)
        return Outcome(student, lab, "unreadable", why)
    text = path.read_text(errors="replace")
    nb, unreadable = check_readable(text)
    if nb is None:
        ensure_student(root, student, lab)
        return Outcome(student, lab, "unreadable", unreadable, tuple(notes))
    repaired = json.loads(dumps(nb)) != json.loads(text)
    if repaired:
        notes.append("notebook format repaired (ids, schema)")
    released = nbformat.read(root / "release" / lab / f"{lab}.ipynb", as_version=4)
    repairs = repair_structure(nb, released)
    notes += repairs
    if repaired or repairs:
        quarantine(root, student, lab)
        path.write_text(dumps(nb))
    source = nbformat.read(root / "source" / lab / f"{lab}.ipynb", as_version=4)
    findings = find_tampering(nb, source)
    if findings:
        ensure_student(root, student, lab)
        return Outcome(student, lab, "tampering", "; ".join(map(str, findings[:5])), tuple(notes))
    notes += deleted_answers(nb, source)
    status = "graded"
    for attempt in range(4):
        with tempfile.TemporaryDirectory(prefix="course-grading-") as tmp:
            code, output = run_nbgrader_autograde(lab, student, root, limits, Path(tmp))
            marker = Path(tmp) / "marker"
            isolation = (marker / "isolation").read_text().strip() if (marker / "isolation").exists() else ""
            crashed_cell = (marker / "cell").read_text().strip() if (marker / "cell").exists() else ""
        if isolation.startswith("none (") and not any("isolation" in n for n in notes):
            notes.append(f"isolation: {isolation}")
        autograded = root / "autograded" / student / lab / f"{lab}.ipynb"
        if code is None:
            ensure_student(root, student, lab)
            return Outcome(student, lab, "timed out",
                           f"the notebook ran past its limit of {limits.notebook_seconds:g} s", tuple(notes))
        if code == 0 and autograded.exists():
            break
        if "DeadKernelError" in output and crashed_cell and attempt < 3:
            label = neutralize_cell(root, student, lab, crashed_cell)
            if label:
                status = "crashed"
                notes.append(f"the kernel died in cell {label}; that cell was skipped")
                continue
        ensure_student(root, student, lab)
        return Outcome(student, lab, "crashed", last_error_line(output), tuple(notes))
    timed_out, memory = runtime_notes(autograded)
    if timed_out:
        status = "timed out" if status == "graded" else status
        notes.append(f"cell time limit hit in {', '.join(timed_out)}")
    if memory:
        notes.append(f"memory limit hit in {', '.join(memory)}")
    return Outcome(student, lab, status, "", tuple(notes))


def quarantine(root: Path, student: str, lab: str) -> Path:
    """Keep the submission as handed in (once) under quarantine/ before the grader changes it."""
    path = root / "submitted" / student / lab / f"{lab}.ipynb"
    original = root / "quarantine" / student / lab / f"{lab}.ipynb"
    original.parent.mkdir(parents=True, exist_ok=True)
    if not original.exists():
        shutil.copy2(path, original)
    return path


def neutralize_cell(root: Path, student: str, lab: str, source_digest: str) -> str | None:
    """Replace the code cell whose source has SHA-256 ``source_digest`` by a ``raise``.

    The submission as handed in is kept in ``quarantine/``.
    """
    path = quarantine(root, student, lab)
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and hashlib.sha256(cell.source.encode()).hexdigest() == source_digest:
            cell.source = ("raise RuntimeError('This cell stopped the Python kernel during grading "
                           "(os._exit, a crash or a signal); the autograder skipped it.')")
            nbformat.write(nb, path)
            return cell.metadata.get("nbgrader", {}).get("grade_id") or f"#{index + 1}"
    return None


def placeholder_feedback(outcome: Outcome, root: Path) -> Path:
    """Feedback for a submission that was not executed: the reason and the score 0."""
    path = root / "feedback" / outcome.student / outcome.lab / f"{outcome.lab}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    advice = {"tampering": "Your code changes how the tests or the grader work, so it earns no points. "
                           "Ask your instructor if you think this is a mistake.",
              "unreadable": "Hand in the .ipynb file itself, saved from Jupyter or Colab.",
              }.get(outcome.status, "Check that your notebook runs top to bottom, then ask your instructor.")
    path.write_text(f"<html><body><h1>{html.escape(outcome.lab)}: {html.escape(outcome.status)} (score 0)</h1>"
                    f"<p>{html.escape(outcome.detail)}</p><p>{html.escape(advice)}</p></body></html>\n")
    return path


def grade_class(root: Path, only: list[str] | None = None, progress: bool = True,
                limits: Limits | None = None) -> tuple[list[Grade], list[Outcome]]:
    """Autograde every submission one by one, write feedback and export grades.

    A submission nbgrader cannot grade (unreadable file, crash, time limit) is never lost: the student
    keeps a gradebook row with 0, gets a feedback page that says why, and the outcome says what happened.
    """
    from tqdm import tqdm

    chosen = only or labs(root)
    pairs = sorted((lab, p.parent.name) for lab in chosen for p in (root / "submitted").glob(f"*/{lab}"))
    outcomes = []
    for lab, student in tqdm(pairs, desc="autograde", unit="submission", disable=not progress):
        outcomes.append(autograde_student(lab, student, root, limits))
    with (root / "grading.log").open("w") as log:
        for lab in chosen:
            proc = feedback(lab, root)
            log.write(f"### generate_feedback {lab} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}\n")
        for outcome in outcomes:
            log.write(f"{outcome.lab} {outcome.student}: {outcome.status} {outcome.detail} {list(outcome.notes)}\n")
            if not (root / "autograded" / outcome.student / outcome.lab / f"{outcome.lab}.ipynb").exists():
                placeholder_feedback(outcome, root)
    export(root)
    return grades(root), outcomes


def summary(rows: list[Grade], outcomes: list[Outcome]) -> str:
    """Counts per outcome (graded, zero, timed out, crashed, unreadable, tampering) and one line per
    submission that needs the instructor's eye."""
    score = {(g.student, g.lab): g.score for g in rows}
    counts = {status: sum(o.status == status for o in outcomes) for status in STATUSES}
    zero = sum(1 for o in outcomes if score.get((o.student, o.lab), 0) == 0)
    lines = [f"submissions: {len(outcomes)}; " + ", ".join(f"{k}: {v}" for k, v in counts.items())
             + f"; scored 0: {zero}"]
    for o in outcomes:
        if o.status != "graded" or o.notes:
            text = "; ".join(filter(None, [o.detail, *o.notes]))
            lines.append(f"  {o.lab} {o.student}: {o.status.upper()} - {text}")
    return "\n".join(lines)


def read_grades_csv(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))
