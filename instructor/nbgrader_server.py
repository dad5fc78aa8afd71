"""nbgrader, imported once: a server that forks one child per nbgrader command (``python -m instructor.nbgrader_server``).

Each nbgrader command costs about a second before it does anything (importing nbgrader, nbconvert,
traitlets and jsonschema); a grading run starts four per class. :func:`instructor.course.nbgrader`
starts this server once per grader process, from the repository root, and sends it one request per
line on stdin — ``{"argv": [...], "env": {...}, "out": path, "err": path}`` — and the server answers with
the command's exit code on stdout. The child is what ``python -m nbgrader <argv>`` started in the
repository would be: the same working folder, ``sys.path``, environment and argv, in a fresh process
(forked before any application object exists), stdout and stderr into the two files.
"""
from __future__ import annotations

import json
import os
import sys
import traceback

PRELOAD = ("nbgrader.apps", "nbgrader.converters", "nbgrader.preprocessors", "instructor.nbgrader_plugins")


def child(request: dict) -> None:
    """Become ``python -m nbgrader`` for ``request``; never returns."""
    code = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # not the server's request pipe
        os.close(null)
        for fd, path in ((1, request["out"]), (2, request["err"])):
            opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        sys.argv = ["nbgrader", *request["argv"]]
        from nbgrader.apps.nbgraderapp import main

        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 (as the interpreter does: the traceback on stderr, exit 1)
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def serve() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (the command itself then reports it, as it would alone)
            pass
    answers = os.fdopen(os.dup(1), "w")
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(request)
        _, status = os.waitpid(pid, 0)
        answers.write(f"{os.waitstatus_to_exitcode(status)}\n")
        answers.flush()


if __name__ == "__main__":
    serve()
