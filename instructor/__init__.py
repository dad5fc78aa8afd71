"""Instructor tooling: execute the labs, release them, grade a class (``python -m instructor``).

Not needed by students; imports nbgrader and papermill lazily so ``--help`` stays fast.
"""
