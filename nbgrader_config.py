"""nbgrader configuration for the course (nbgrader 0.9.6).

Read by every ``nbgrader`` command started in this directory (the Makefile and ``python -m
instructor`` start them here). ``--CourseDirectory.root=...`` on the command line points a run at
another course folder (the demo class in build/, the tests' temporary classes).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # the course's own nbgrader plugins live in instructor/
    sys.path.insert(0, HERE)

from instructor.nbgrader_plugins import HideHiddenTests, TrimOutputs  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, Execute, GetGrades,  # noqa: E402
                                    IgnorePattern, LimitOutput, SaveAutoGrades)

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "normalization-in-deep-learning"

# Execution under autograde/validate. nbgrader sets NBGRADER_EXECUTION in the kernel's environment;
# every lab's setup cell (course_utils.resolve_mode) then forces quick mode, so the full
# experiments never run once per student. Quick-mode training cells take seconds on a CPU;
# 120 s per cell leaves room for a slow machine and stops an infinite loop.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# A grade cell with any stderr output scores 0. Frameworks write warnings and log lines there on a
# correct answer (TensorFlow's absl/oneDNN lines, Python warnings), so drop stderr chunks that are
# warnings or framework logs. Errors are not stderr streams, so this can never turn a failing test
# into a passing one.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(\w*Warning:|warnings\.warn|^WARNING:|absl::|oneDNN|"
    r"(^|\n)[IWE]\d{4} \d\d:\d\d:\d\d)"
)

# Students delete cells: put deleted graded cells back from the gradebook (nbgrader >= 0.9.0).
c.OverwriteCells.add_missing_cells = True

# The stub that replaces every solution region in the student version.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback goes to students: strip hidden tests (and tracebacks quoting them) from it.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]

# Megabytes of printed output must not bloat the autograded notebook and the feedback: nbgrader's
# LimitOutput caps lines, TrimOutputs (ours) caps characters (one huge line passes LimitOutput).
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100
c.TrimOutputs.max_chars = 20000
c.Autograde.autograde_preprocessors = [Execute, TrimOutputs, IgnorePattern, ClearMetadataPreprocessor,
                                       LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
