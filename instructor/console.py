"""The instructor's console: the lines that matter on the terminal, everything else in a log file.

``with quiet("course") as console:`` points this process's file descriptors 1 and 2 at
``build/logs/course.log`` — and with them everything that inherits them or writes through them: the
Jupyter kernels papermill and nbgrader start ("Kernel is running over TCP without encryption"),
TensorFlow's C++/absl lines, nbgrader's and papermill's logging, Python warnings. Only
``console.say(...)`` and progress bars reach the terminal. On an error the step says what failed in
one line and where the log is; the traceback is in the log.
"""
from __future__ import annotations

import logging
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

from .notebooks import ROOT

LOGS = ROOT / "build" / "logs"


class Console:
    """Where the instructor's lines go: the terminal, even while fds 1 and 2 point at the log."""

    def __init__(self) -> None:
        self.stream, self.errors = sys.stdout, sys.stderr
        self.log: Path | None = None

    def say(self, text: str = "", end: str = "\n") -> None:
        self.stream.write(text + end)
        self.stream.flush()

    def error(self, text: str) -> None:
        """A line on the terminal's stderr (and in the log)."""
        self.stream.flush()
        self.errors.write(text + "\n")
        self.errors.flush()
        if self.log is not None:
            print(text, file=sys.stderr, flush=True)

    def where(self) -> str:
        """The log's path as the instructor should read it (relative to the repository when inside it)."""
        if self.log is None:
            return "the terminal"
        try:
            return str(self.log.relative_to(ROOT))
        except ValueError:
            return str(self.log)


console = Console()


@contextmanager
def quiet(step: str, log: Path | None = None):
    """Run a step with the terminal reserved for ``console.say`` and progress bars (see module doc)."""
    log = log or LOGS / f"{step}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8", errors="replace")
    terminal_errors = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    logfile = open(log, "w", buffering=1, encoding="utf-8", errors="replace")
    os.dup2(logfile.fileno(), 1)
    os.dup2(logfile.fileno(), 2)
    handler = logging.StreamHandler(logfile)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    before = (console.stream, console.errors, console.log)
    console.stream, console.errors, console.log = terminal, terminal_errors, log
    # kernels inherit the environment: TensorFlow's C++ info lines stay out even of the log
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        yield console
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(old_level)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        console.stream, console.errors, console.log = before
        terminal.close()
        terminal_errors.close()
        logfile.close()


def failed(what: str, err: BaseException) -> int:
    """Say in one line what failed (the traceback goes to the log); the exit code 1."""
    traceback.print_exception(err, file=sys.stderr)  # fd 2: the log while ``quiet`` is on
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    detail = f"{ename}: {evalue}" if ename else f"{type(err).__name__}: {err}"
    cell = getattr(err, "exec_count", None)
    where = f" in cell [{cell}]" if cell is not None else ""
    first = detail.strip().splitlines()[0] if detail.strip() else type(err).__name__
    console.error(f"FAILED {what}{where}: {first[:300]}")
    console.error(f"details: {console.where()}")
    return 1
