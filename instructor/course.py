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

import json
import os
import subprocess
import sys
import tempfile
import threading
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


def nbgrader(*args: str, root: Path = ROOT, check: bool = True, fresh_process: bool = False
             ) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args> --CourseDirectory.root=<root>`` from the repository root (its config applies).

    It runs as ``python -m nbgrader`` would, in a process of its own, forked from a server that has
    imported nbgrader once (:mod:`instructor.nbgrader_server`): measured, ``generate_assignment`` of pt01
    took 0.4-0.9 s instead of 2.0-2.7 s. ``fresh_process`` (or a server that died): the stock command itself (plain nbgrader, the
    benchmark's baseline)."""
    cmd = [*NBGRADER, *args, f"--CourseDirectory.root={root}"]
    proc = None if fresh_process else _NbgraderServer.run(cmd[3:])
    if proc is None:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=tool_env())
    check_config_loaded(proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


class _NbgraderServer:
    """The grader's one :mod:`instructor.nbgrader_server` (started at the first command; a new one when it
    died). Commands from several threads take turns."""
    lock = threading.Lock()
    proc: subprocess.Popen | None = None

    @classmethod
    def run(cls, argv: list[str]) -> subprocess.CompletedProcess | None:
        """``nbgrader argv`` through the server; None when the server cannot take it (it died)."""
        with cls.lock, tempfile.TemporaryDirectory(prefix="course-nbgrader-") as tmp:
            out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
            request = json.dumps({"argv": argv, "env": tool_env(), "out": out, "err": err})
            try:
                if cls.proc is None or cls.proc.poll() is not None:
                    cls.proc = subprocess.Popen([sys.executable, "-m", "instructor.nbgrader_server"], cwd=ROOT,
                                                env=tool_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                text=True)
                cls.proc.stdin.write(request + "\n")
                cls.proc.stdin.flush()
                answer = cls.proc.stdout.readline().strip()
            except OSError:
                answer = ""
            if not answer.lstrip("-").isdigit():  # it died: the caller runs the stock command instead
                if cls.proc is not None and cls.proc.poll() is None:
                    cls.proc.kill()
                cls.proc = None
                return None
            texts = []
            for path in (out, err):
                try:
                    with open(path, errors="replace") as fh:
                        texts.append(fh.read())
                except OSError:  # the child died before it opened them
                    texts.append("")
        return subprocess.CompletedProcess(["nbgrader", *argv], int(answer), *texts)
