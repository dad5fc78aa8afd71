"""What the grading stages hand each other (plain dataclasses, picklable for Dask)."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..sandbox_kernel import Spec


class Status(StrEnum):
    """Where a submission ended. A ``str``: it compares, prints and goes into JSON as its value."""
    GRADED = "graded"
    TIMED_OUT = "timed out"     # the notebook's time limit, or a cell's
    CRASHED = "crashed"         # the kernel died (its cell was skipped), or the worker did twice
    UNREADABLE = "unreadable"   # not a notebook, or no notebook: score 0, never run
    PENDING = "pending"         # between intake and the run stage; never in a finished run


STATUSES = (Status.GRADED, Status.TIMED_OUT, Status.CRASHED, Status.UNREADABLE)


class CourseError(RuntimeError):
    """An instructor-side fault (unknown lab, broken or stale source): the run stops once, with advice."""


@dataclass
class Outcome:
    """What happened to one submission. ``status`` is a :class:`Status`; ``notes`` say what was done."""
    student: str
    lab: str
    status: Status
    detail: str = ""
    notes: tuple = ()
    diagnoses: tuple = ()   # per exercise that lost points: the diagnosis (dicts, see grading.diagnose)

    @property
    def codes(self) -> list[str]:
        """The stable codes of ``notes`` (:mod:`instructor.grading.notes`), in order."""
        return [getattr(n, "code", "") for n in self.notes]


@dataclass
class Limits:
    """What student code may use while it is graded (see README, 'Grading safely')."""
    notebook_seconds: float = 900   # the whole notebook
    cell_seconds: int = 120          # one cell (the same as Execute.timeout of nbgrader_config.py)
    memory_mb: int = Spec.memory_mb  # address space of the kernel (torch + TF need ~4 GB of it)
    file_mb: int = Spec.file_mb      # largest file the kernel may write
    isolate: bool = Spec.isolate     # run the kernel in the allow-list sandbox (bubblewrap)
    threads: int | None = None      # CPU threads of one kernel (OMP/MKL/TF); None: cores / workers, at most OMP_NUM_THREADS


@dataclass
class Task:
    """One (student, lab) to run, self-contained so that any Dask worker can run it.

    ``notebook`` is the submission after intake (locked cells as released); ``probe`` the lab's checks
    (:class:`~instructor.grading.probes.Probe`); ``reference`` the solution's probe data by seed offset.
    """
    lab: str
    student: str
    notebook: str
    limits: Limits
    probe: object = None
    reference: dict = field(default_factory=dict)
    catalogue: dict = field(default_factory=dict)  # the catalogued mistakes' probe data (empty: no diagnosis)
    warm: tuple = ()   # modules a zygote imports ahead of the kernel (instructor.zygote; empty: a cold kernel)


@dataclass
class TaskResult:
    """What a worker hands back to the single writer: the outcome, and what to record."""
    lab: str
    student: str
    status: Status
    detail: str = ""
    notes: list = field(default_factory=list)
    autograded: str | None = None         # the autograded notebook (text) when nbgrader finished
    scores: dict = field(default_factory=dict)    # grade cell -> (auto_score, needs_manual_grade)
    comments: dict = field(default_factory=dict)  # solution cell -> auto_comment
    neutralized: str | None = None        # the submission with a kernel-killing cell replaced
    seconds: float = 0.0
    diagnoses: list = field(default_factory=list)  # grading.diagnose.Diagnosis as dicts
    diagnosis_seconds: float = 0.0
