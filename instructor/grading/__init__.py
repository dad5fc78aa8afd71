"""Grading a class: the stages a submission walks through, one module each.

``intake``  find the file, rename "Copy of …", check it is a notebook, repair it, restore locked cells
``scan``    static look at the student's cells before anything runs (notes for review, never a score)
``probes``  the lab's tests rewritten into a probe that reports data (``recorder`` runs in the kernel)
``run``     the notebook and its probe in the allow-list sandbox kernel (nbclient), once per submission
``checks``  the verdicts, here: the probe's data against the solution's (cached per lab)
``record``  the single writer: gradebook, ``autograded/``, feedback placeholders, resume state
``report``  grade table, summary with throughput, class report (per-exercise shares, histogram)

``dispatch.grade_class`` drives them (plan, execute serially or on Dask, finish) and gives a
``GradingRun``; ``types`` holds what they pass around; ``instructor.course.CourseFolder`` every path.
"""
from .dispatch import GradingRun, Stages, grade_class
from .report import Grade, class_report, grade_table, grades, read_grades_csv, summary
from .types import STATUSES, CourseError, Limits, Outcome, Status, Task, TaskResult

__all__ = ["STATUSES", "CourseError", "Grade", "GradingRun", "Limits", "Outcome", "Stages", "Status", "Task",
           "TaskResult", "class_report", "grade_class", "grade_table", "grades", "read_grades_csv", "summary"]
