"""The course folder: every path the grading stages read or write, and the one ``nbgrader`` runner.

A course folder is nbgrader's ``CourseDirectory.root`` (the repository for a real class,
``build/demo_class`` for the demo, a temporary folder in the tests). :class:`CourseFolder` spells out
its layout once, as nbgrader's ``CourseDirectory.format_path`` does::

    source/<lab>/<lab>.ipynb                 the instructor's notebook (solutions, hidden tests)
    release/<lab>/<lab>.ipynb                the student version
    submitted/<student>/<lab>/<lab>.ipynb    as collected (intake repairs it in place)
    quarantine/<student>/<lab>/<lab>.ipynb   the file as handed in, kept before anything rewrites it
    autograded/<student>/<lab>/<lab>.ipynb   the graded notebook
    feedback/<student>/<lab>/<lab>.html      what the student gets back
    gradebook.db  grades.csv  grading-state.json  grading.log  .grading-cache/<lab>-<digest>/

Every other module asks this class for a path instead of joining the parts itself.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .notebooks import ROOT

NBGRADER = [sys.executable, "-m", "nbgrader"]


@dataclass(frozen=True)
class CourseFolder:
    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    def _notebook(self, kind: str, lab: str, student: str | None = None, suffix: str = ".ipynb") -> Path:
        parts = [kind] + ([student] if student is not None else []) + [lab, f"{lab}{suffix}"]
        return self.root.joinpath(*parts)

    def source(self, lab: str) -> Path:
        return self._notebook("source", lab)

    def released(self, lab: str) -> Path:
        return self._notebook("release", lab)

    def submitted(self, student: str, lab: str) -> Path:
        return self._notebook("submitted", lab, student)

    def quarantine(self, student: str, lab: str) -> Path:
        return self._notebook("quarantine", lab, student)

    def autograded(self, student: str, lab: str) -> Path:
        return self._notebook("autograded", lab, student)

    def feedback(self, student: str, lab: str) -> Path:
        return self._notebook("feedback", lab, student, ".html")

    def students(self, lab: str) -> list[str]:
        """Every student with a submission folder for ``lab``, sorted."""
        return sorted(p.parent.name for p in (self.root / "submitted").glob(f"*/{lab}"))

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.gradebook}"

    @property
    def state(self) -> Path:
        return self.root / "grading-state.json"

    @property
    def log(self) -> Path:
        return self.root / "grading.log"

    @property
    def grades_csv(self) -> Path:
        return self.root / "grades.csv"

    def cache(self, lab: str, source_digest: str) -> Path:
        """Per lab and source version: the student version, the reference data, the catalogue. No kernel
        can see it (the sandbox binds only its scratch folder)."""
        return self.root / ".grading-cache" / f"{lab}-{source_digest[:16]}"

    def nbgrader(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return nbgrader(*args, root=self.root, check=check)


def tool_env() -> dict:
    """The environment with this interpreter's bin/ first on PATH (nbgrader calls ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def check_config_loaded(log: str) -> None:
    """nbgrader only logs a config file that fails to load and goes on without it: stop instead."""
    if "loading config file" in log.lower():
        raise RuntimeError(f"nbgrader could not load nbgrader_config.py:\n{log[-2000:]}")


def nbgrader(*args: str, root: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args> --CourseDirectory.root=<root>`` from the repository root (its config applies)."""
    cmd = [*NBGRADER, *args, f"--CourseDirectory.root={root}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=tool_env())
    check_config_loaded(proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc
