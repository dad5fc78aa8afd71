import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Labs leave benchmark tables for their twin in a per-user cache; the tests keep theirs apart.
os.environ.setdefault("COURSE_RESULTS_DIR", tempfile.mkdtemp(prefix="course-results-"))
# Kernels and nbgrader inherit the environment: keep TensorFlow's C++ info lines off the console
# (every lab's setup cell sets the same default itself, so grading sees what it would anyway).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


def pytest_configure(config):
    """Tests run side by side (pytest-xdist): each gets its share of the cores, and so does every kernel it
    starts (papermill's, the grader's: instructor.grading.dispatch.default_threads caps at OMP_NUM_THREADS).
    Without it OpenMP's spinning threads oversubscribe the cores: pt04's full-path run took 139 s next to two
    busy processes with torch's default threads, and 38 s with one (33 s alone). (Here, not at import: a
    worker learns the worker count from ``config.workerinput``.)"""
    worker = getattr(config, "workerinput", None)
    if worker is None and getattr(config.option, "numprocesses", None):
        return  # the xdist controller: its workers set their own share
    workers = (worker or {}).get("workercount") or 1
    share = str(max(1, (os.cpu_count() or 1) // max(1, int(workers))))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ.setdefault(name, share)


@pytest.fixture(scope="session", autouse=True)
def shared_grading_cache(tmp_path_factory):
    """One folder for the whole session, every xdist worker included (their base temporary folders share
    a parent), where classrooms hand each other a lab's reference data and catalogue (tests/classroom.py)."""
    from classroom import SHARED_CACHE

    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-grading-cache"
    shared.mkdir(exist_ok=True)
    os.environ[SHARED_CACHE] = str(shared)
    return shared


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """``graded_class(lab)``: the lab's hostile classroom (tests/classroom.py), graded once per session.

    Tests that use it are grouped per lab (``xdist_group``, run with ``--dist loadgroup``), so each
    lab's class is graded by one pytest worker, once.
    """
    from classroom import grade_hostile_class

    cache = {}

    def get(lab):
        if lab not in cache:
            cache[lab] = grade_hostile_class(lab, tmp_path_factory.mktemp(lab))
        return cache[lab]
    return get


def pytest_terminal_summary(terminalreporter):
    """Print the mutant table and the diagnosis table (tests/test_mutants.py records one row per lab, also
    under xdist)."""
    rows = []
    for key in ("passed", "failed"):
        for report in terminalreporter.stats.get(key, []):
            if getattr(report, "when", "") == "call":
                rows += [value for name, value in getattr(report, "user_properties", []) if name == "mutant_table"]
    if rows:
        terminalreporter.section("mutant library")
        header = rows[0].splitlines()[0]
        body = sorted(line for row in rows for line in row.splitlines()[1:] if not line.startswith("  "))
        survivors = [line for row in rows for line in row.splitlines()[1:] if line.startswith("  ")]
        for line in [header, *body, *survivors]:
            terminalreporter.write_line(line)
    tables = [value for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
              if getattr(report, "when", "") == "call"
              for name, value in getattr(report, "user_properties", []) if name == "diagnosis_table"]
    if tables:  # tests/test_mutants.py: each lab's entries handed in and diagnosed
        terminalreporter.section("diagnosis against the mistake catalogue")
        lines = [ln for t in tables for ln in t.splitlines()]
        header = lines[0]
        labs_ = sorted(ln for ln in lines if ln[:2] in ("pt", "tf"))
        rest = [ln for ln in lines if ln.startswith("  ")]
        cols = [list(map(int, ln.split()[1:7])) for ln in labs_]
        total = [sum(c[i] for c in cols) for i in range(6)] if cols else [0] * 6
        for line in [header, *labs_, *rest]:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"all: {total[1]}/{total[0]} mistakes named as themselves "
                                    f"({total[1] / max(1, total[0]):.1%}); uncatalogued mislabelled "
                                    f"{total[3]}/{total[2]}; correct answers diagnosed {total[5]}/{total[4]}")
    shots = [value for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
             if getattr(report, "when", "") == "call"
             for name, value in getattr(report, "user_properties", []) if name == "screenshot"]
    for shot in shots:  # tests/test_browser.py: where to look at the filled lab
        terminalreporter.write_line(f"browser screenshot: {shot}")
