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
    """Print the mutant table (tests/test_mutants.py records one row per lab, also under xdist)."""
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
    shots = [value for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
             if getattr(report, "when", "") == "call"
             for name, value in getattr(report, "user_properties", []) if name == "screenshot"]
    for shot in shots:  # tests/test_browser.py: where to look at the filled lab
        terminalreporter.write_line(f"browser screenshot: {shot}")
