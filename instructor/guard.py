"""The integrity guard of the grading kernel: evidence, signed outside the student's reach, of what ran.

Student code runs in the same Python process as the tests, so no list of forbidden names can stop it
from switching a test off (IPython's ``input_transformers_post``, ``ast_transformers``, ``events``, a
replaced ``run_cell`` or ``showtraceback``, ``sys.settrace``, a patched ``torch.testing.assert_close``
reached through any alias...). The guard therefore does not try to forbid: it *witnesses*, and the
grader, outside the kernel, only believes a passing grade cell that the witness vouches for.

:func:`install` runs in the kernel process before any cell (``instructor.sandbox_kernel``). It adds a
CPython audit hook (PEP 578: once added, Python code cannot remove it) that

* sees every cell IPython compiles (the ``compile`` event carries the cell's transformed source). A
  locked cell whose source is byte-for-byte the instructor's gets a ``begin`` record; anything else is
  student code, whose file name is remembered (to recognize student frames on the stack later);
* at every cell boundary (and at the grader's closing cell) checks that nothing a test relies on was
  replaced since the last boundary: every function, class and module bound in a module loaded by then
  (``torch.testing``, ``numpy.testing``, ``builtins``, ...), the IPython shell's transformer lists,
  event callbacks and methods, the kernel's and session's methods, the classes of the kernel machinery,
  the notebook's own test helpers, and ``sys.gettrace()``/``sys.getprofile()``. Any difference is a
  ``violation`` record naming what changed;
* stops the kernel (``os._exit``) when student code (a student frame on the stack) does what only an
  attack needs: trace/profile hooks, ``gc`` object walks, ``sys._current_frames``, ctypes, reading
  ``/proc/*/mem``, new audit hooks, replacing a function's code, or starting a program. The record says
  what; the grader skips that cell and reports it.

Records are lines ``seq|kind|fields...|hmac`` appended to a file; the HMAC key is handed over on a pipe
that is closed before student code runs and lives only inside an OpenSSL HMAC object that no Python
reference outside the hook's closure reaches (the hook never raises, so no traceback carries its
frame; ``gc`` walks are stopped). A record the student forged, reordered or deleted does not verify,
and a passing grade cell without its ``begin`` record, or a run without the closing ``end`` record,
does not count (:func:`verify`, run by the grader).

What remains possible (documented in the README): a patch made *and undone* inside one cell by code
that runs at a chosen moment (a thread, a ``gc`` callback) — the boundary checks cannot see it — and
reading the HMAC state out of process memory through a C library reached without ctypes.
"""
from __future__ import annotations

import hashlib
import hmac
import os

# What stops the kernel when a student frame is on the stack. "severe": only an attack needs it.
SEVERE_EVENTS = {"sys.settrace", "sys.setprofile", "sys._current_frames", "gc.get_objects", "gc.get_referrers",
                 "gc.get_referents", "sys.addaudithook", "object.__setattr__", "object.__delattr__", "code.__new__"}
DIRECT_EVENTS = {"object.__setattr__", "object.__delattr__", "code.__new__"}
STDLIB_PASSTHROUGH = ("/subprocess.py", "/os.py", "/pty.py", "/ctypes/__init__.py")
PROGRAM_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"}
SEVERE_IMPORTS = ("ctypes", "_ctypes", "cffi", "instructor", "nbgrader", "_posixsubprocess")
# Bound names that the kernel or a library replaces during normal work (never a test's comparison):
# ipykernel swaps input()/getpass() on every request; importing torch patches inspect.getfile.
VOLATILE = {("builtins", "input"), ("builtins", "raw_input"), ("getpass", "getpass"), ("inspect", "getfile")}
END_CELL = "# The grader's closing integrity check (added by the autograder; not part of the lab).\npass\n"
EXIT_CODE = 86


def expected_cells(source_cells: list[dict]) -> list[dict]:
    """The locked code cells of a lab as the kernel will compile them: digest of IPython's transform.

    ``source_cells``: ``[{"grade_id", "source", "grade", "helpers"}]`` of the locked code cells in
    order; returns them with ``digest`` (SHA-256 of the transformed source) added, and the closing cell.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    manager = TransformerManager()
    out = []
    for cell in [*source_cells, {"grade_id": "__end__", "source": END_CELL, "grade": False, "helpers": []}]:
        text = manager.transform_cell(cell["source"])
        out.append({**cell, "digest": hashlib.sha256(text.encode()).hexdigest()})
    return out


def raw_digests(source: str) -> set[str]:
    """Digests a cell can be recognized by: of its raw source and of IPython's transform of it."""
    from IPython.core.inputtransformer2 import TransformerManager

    digests = {hashlib.sha256(source.encode()).hexdigest()}
    try:
        digests.add(hashlib.sha256(TransformerManager().transform_cell(source).encode()).hexdigest())
    except Exception:  # a cell IPython cannot transform is still recognized by its raw source
        pass
    return digests


def install(cells: list[dict], key: bytes, record_path: str, marker_path: str) -> None:
    """Add the audit hook (see the module docstring). Call once, before the kernel runs any cell."""
    import builtins
    import sys
    import tempfile
    import threading
    import types

    # The functions below look builtins up in a private copy, so a student's `builtins.isinstance = ...`
    # changes the tests (and is reported) but not the guard; module functions are bound once, here.
    globals()["__builtins__"] = dict(vars(builtins))
    _install(cells, key, record_path, marker_path, sys, tempfile, threading, types)


def _install(cells, key, record_path, marker_path, sys, tempfile, threading, types) -> None:
    sha256 = hashlib.sha256
    modules_table = sys.modules
    gettrace, getprofile = sys.gettrace, sys.getprofile
    try:
        from IPython import get_ipython
    except ImportError:  # not a kernel: nothing to protect but modules
        get_ipython = None
    signer = hmac.new(key, digestmod="sha256")
    fd = os.open(record_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    by_digest = {c["digest"]: c for c in cells}
    cell_root = os.path.join(tempfile.gettempdir(), f"ipykernel_{os.getpid()}")
    state = {"seq": 0, "student_files": set(), "snap": None, "helpers": {}, "last": None, "ended": False}
    busy = set()
    get_ident, getframe, write, exit_now = threading.get_ident, sys._getframe, os.write, os._exit
    function_types = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
                      types.ModuleType, types.MethodDescriptorType, types.WrapperDescriptorType)

    def emit(kind: str, *fields) -> None:
        state["seq"] += 1
        line = "|".join([str(state["seq"]), kind, *(str(f).replace("|", "/").replace("\n", " ")[:300]
                                                     for f in fields)])
        mac = signer.copy()
        mac.update(line.encode())
        write(fd, f"{line}|{mac.hexdigest()}\n".encode())

    def student_frame():
        frame = getframe(2)
        while frame is not None:
            if frame.f_code.co_filename in state["student_files"]:
                return frame.f_code.co_filename
            frame = frame.f_back
        return None

    def stop(category: str, what: str, filename: str) -> None:
        emit(category, what, state["student_files_digest"].get(filename, ""))
        try:
            with open(marker_path, "w") as fh:
                fh.write(state["student_files_digest"].get(filename, ""))
        finally:
            exit_now(EXIT_CODE)

    state["student_files_digest"] = {}

    # ------------------------------------------------------------------ what the tests rely on
    def shell_and_kernel():
        if "shell" not in state:
            state["shell"] = get_ipython() if get_ipython is not None else None
        shell = state["shell"]
        return shell, getattr(shell, "kernel", None)

    def machinery() -> dict:
        """Identity of everything in the execution path of a cell and of its error output."""
        shell, kernel = shell_and_kernel()
        items = {"sys.trace": gettrace(), "sys.profile": getprofile(),
                 "sys.displayhook": sys.displayhook, "sys.excepthook": sys.excepthook}
        if shell is None:
            return items
        items["shell.class"] = type(shell)
        for name in ("input_transformers_post", "input_transformers_cleanup", "ast_transformers"):
            items[f"shell.{name}"] = tuple(getattr(shell, name, ()) or ())
        manager = getattr(shell, "input_transformer_manager", None)
        items["shell.input_transformer_manager"] = manager
        for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
            items[f"manager.{name}"] = tuple(getattr(manager, name, ()) or ())
        events = getattr(shell, "events", None)
        for event, callbacks in (getattr(events, "callbacks", {}) or {}).items():
            items[f"events.{event}"] = tuple(callbacks)
        objects = {"shell": shell, "kernel": kernel, "session": getattr(kernel, "session", None),
                   "displayhook": getattr(shell, "displayhook", None),
                   "display_pub": getattr(shell, "display_pub", None),
                   "compile": getattr(shell, "compile", None),
                   "iopub": getattr(kernel, "iopub_socket", None)}
        for label, obj in objects.items():
            if obj is None:
                continue
            items[f"{label}.class"] = type(obj)
            for name, value in list(getattr(obj, "__dict__", {}).items()):
                if callable(value) and not isinstance(value, type):
                    items[f"{label}.{name}"] = value
            for klass in type(obj).__mro__:
                for name, value in list(vars(klass).items()):
                    items[f"{klass.__module__}.{klass.__qualname__}.{name}"] = value
        return items

    def student_made(value, depth: int = 0) -> bool:
        """Whether ``value`` was made by student code (a function from a student cell, a student class...)."""
        if depth > 3:
            return False
        for attr in ("func", "__func__", "fget"):
            inner = getattr(value, attr, None) if not isinstance(value, types.ModuleType) else None
            if inner is not None and inner is not value and student_made(inner, depth + 1):
                return True
        code = getattr(value, "__code__", None)
        if isinstance(code, types.CodeType) and code.co_filename in state["student_files"]:
            return True
        owner = value if isinstance(value, type) else type(value)
        return getattr(owner, "__module__", "") == "__main__"

    class GuardedModule(types.ModuleType):
        """Modules loaded by then get this class: a write from a student frame is recorded at once."""
        __slots__ = ()

        def __setattr__(self, name, value):
            frame = getframe(1)
            if frame.f_code.co_filename in state["student_files"]:
                writes.append(f"student code set {types.ModuleType.__getattribute__(self, '__name__')}.{name}")
            types.ModuleType.__setattr__(self, name, value)

        def __delattr__(self, name):
            frame = getframe(1)
            if frame.f_code.co_filename in state["student_files"]:
                writes.append(f"student code deleted {types.ModuleType.__getattribute__(self, '__name__')}.{name}")
            types.ModuleType.__delattr__(self, name)

    writes: list[str] = []

    def modules_now(snap: dict, found: list | None = None) -> None:
        """Add modules loaded since the last boundary; ``found`` collects student-made values in them
        (a module a student cell imported and patched at once)."""
        for name, module in list(modules_table.items()):
            if name in snap or name in ("__main__", "sys") or not isinstance(module, types.ModuleType):
                continue
            try:
                namespace = vars(module)
            except TypeError:
                continue
            snap[name] = (module, {k: v for k, v in list(namespace.items())
                                   if (isinstance(v, function_types) or callable(v)) and (name, k) not in VOLATILE})
            if found is not None:
                found += [f"{name}.{k} replaced" for k, v in snap[name][1].items() if student_made(v)]
            if type(module) is types.ModuleType:
                try:
                    module.__class__ = GuardedModule
                except TypeError:
                    pass

    def suspicious(old, new, student_interval: bool) -> bool:
        """A change is the student's when the new value is student-made, or when it happened while a
        student cell ran and the new value is neither a library's wrapper of the old value
        (``__wrapped__``) nor a Python function of a library (a builtin, a partial, an object put in
        a module's namespace by student code are the student's)."""
        items = new if isinstance(new, tuple) else (new,)
        if any(student_made(v) for v in items):
            return True
        if not student_interval:
            return False  # a library patched itself while instructor code ran (dynamo, matplotlib)
        olds = old if isinstance(old, tuple) else (old,)

        def library_function(v) -> bool:  # e.g. matplotlib's backend switch on a student's first plot
            code = getattr(v, "__code__", None)
            return isinstance(code, types.CodeType) and not code.co_filename.startswith("<") and \
                code.co_filename not in state["student_files"]
        return not all(getattr(v, "__wrapped__", None) is not None or library_function(v) or any(v is o for o in olds)
                       for v in items)

    def check(snap: dict, student_interval: bool) -> list[str]:
        changed = list(dict.fromkeys(writes))
        writes.clear()
        for name, (module, entries) in list(snap["modules"].items()):
            if modules_table.get(name, module) is not module:
                changed.append(f"sys.modules[{name!r}] replaced")
            namespace = vars(module)
            for key, value in list(entries.items()):
                current = namespace.get(key, value)
                if current is not value:
                    if suspicious(value, current, student_interval):
                        changed.append(f"{name}.{key} replaced")
                    entries[key] = current
                elif key not in namespace:
                    changed.append(f"{name}.{key} deleted")
        now = machinery()
        for key, value in snap["machinery"].items():
            current = now.get(key, None)
            if current is not value and current != value and suspicious(value, current, student_interval):
                changed.append(f"{key} changed")
        for key in now.keys() - snap["machinery"].keys():
            if not key.startswith(("sys.", "events.")) and "." in key and key.split(".")[0] in (
                    "shell", "kernel", "session", "displayhook", "display_pub", "compile", "iopub"):
                changed.append(f"{key} added")
        if gettrace() is not None or getprofile() is not None:
            changed.append("a trace or profile function is set")
        main = modules_table.get("__main__")
        namespace = vars(main) if main is not None else {}
        shell, _ = shell_and_kernel()
        if shell is not None:
            namespace = shell.user_ns
        for name, value in state["helpers"].items():
            if namespace.get(name) is not value:
                changed.append(f"the notebook's test helper {name!r} was redefined")
        return changed

    def boundary(source: bytes, filename: str) -> None:
        snap = state["snap"]
        if snap is None:
            snap = state["snap"] = {"modules": {}, "machinery": machinery()}
        else:
            changed = check(snap, state["last_cell"] is None)
            if changed:
                emit("violation", state["last"] or "", "; ".join(changed[:8]) + (
                    f" (+{len(changed) - 8} more)" if len(changed) > 8 else ""))
            snap["machinery"] = machinery()  # re-baseline: one change is reported once
        last = state["last_cell"]
        if last is not None:
            shell, _ = shell_and_kernel()
            namespace = shell.user_ns if shell is not None else {}
            for name in last.get("helpers", ()):
                if name in namespace and name not in state["helpers"]:
                    state["helpers"][name] = namespace[name]
        fresh: list[str] = []
        modules_now(snap["modules"], fresh if state["last_cell"] is None and state["last"] else None)
        if fresh:
            emit("violation", state["last"] or "", "; ".join(fresh[:8]))
        digest = sha256(source).hexdigest()
        cell = by_digest.get(digest)
        if cell is not None:
            state["last_cell"], state["last"] = cell, cell["grade_id"]
            if cell["grade_id"] == "__end__":
                state["ended"] = True
            emit("end" if cell["grade_id"] == "__end__" else "begin", cell["grade_id"], digest)
        else:
            state["last_cell"], state["last"] = None, f"student:{digest[:12]}"
            state["student_files"].add(filename)
            state["student_files_digest"][filename] = digest
            emit("student", digest)
            try:
                with open(marker_path, "w") as fh:
                    fh.write(digest)
            except OSError:
                pass

    state["last_cell"] = None

    def hook(event: str, args: tuple) -> None:
        if event not in WATCHED and not event.startswith("ctypes."):
            return
        me = get_ident()
        if me in busy:
            return
        busy.add(me)
        try:
            if event == "compile":
                source, filename = args[0], args[1]
                if isinstance(source, str):
                    source = source.encode()
                if isinstance(source, bytes) and isinstance(filename, str) and filename.startswith(cell_root):
                    boundary(source, filename)
                return
            if event == "import":
                if not str(args[0]).startswith(SEVERE_IMPORTS):
                    return
            elif event == "open":
                path = str(args[0]) if args and isinstance(args[0], (str, bytes)) else ""
                if not (path.startswith("/proc/") and path.rstrip("/").rsplit("/", 1)[-1] in ("mem", "environ")):
                    return
            elif event == "object.__setattr__" and not isinstance(args[0], (types.FunctionType, types.CodeType)):
                return
            if event in DIRECT_EVENTS or event in PROGRAM_EVENTS or event.startswith("ctypes.") or event == "import":
                # Libraries do these too (importing torch loads ctypes and runs ldconfig): only a call
                # made by the student's own frame counts (the stdlib frames in between are skipped).
                frame = getframe(1)
                while frame is not None and (frame.f_code.co_filename.startswith("<frozen") or
                                             frame.f_code.co_filename.endswith(STDLIB_PASSTHROUGH)):
                    frame = frame.f_back
                caller = frame.f_code.co_filename if frame is not None else ""
                culprit = caller if caller in state["student_files"] else None
            else:
                culprit = student_frame()
            if culprit is None:
                return
            category = "program" if event in PROGRAM_EVENTS else "blocked"
            stop(category, f"{event} {str(args[:2])[:120]}", culprit)
        except Exception as err:  # the hook must never raise: record and go on
            try:
                emit("guard-error", f"{event}: {type(err).__name__}: {err}")
            except Exception:
                pass
        finally:
            busy.discard(me)

    WATCHED = {"compile", "import", "open", *SEVERE_EVENTS, *PROGRAM_EVENTS}
    sys.addaudithook(hook)


# ------------------------------------------------------------------------------ the grader's side
def read_records(path: str, key: bytes) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """(verified records as (kind, fields), problems). A forged, reordered or edited line is a problem."""
    records, problems = [], []
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return [], ["the kernel's integrity record is missing"]
    expected_seq = 1
    for line in lines:
        body, _, mac = line.rpartition("|")
        good = hmac.compare_digest(hmac.new(key, body.encode(), "sha256").hexdigest(), mac)
        parts = body.split("|")
        if not good:
            problems.append(f"an integrity record does not verify (forged or edited): {line[:80]!r}")
            continue
        if parts[0] != str(expected_seq):
            problems.append(f"integrity records out of sequence (expected {expected_seq}, got {parts[0]})")
        expected_seq = int(parts[0]) + 1
        records.append((parts[1], parts[2:]))
    return records, problems


def verify(records: list[tuple[str, list[str]]], grade_ids: list[str]) -> dict:
    """What the grader concludes: ``{"unverified": [grade ids], "violations": [...], "stopped": [...]}``.

    A grade cell is verified when a ``begin`` record names it; ``ended`` is whether the closing cell
    compiled after every check.
    """
    began = {fields[0] for kind, fields in records if kind == "begin"}
    return {"unverified": [g for g in grade_ids if g not in began],
            "violations": [f"after {f[0] or 'the start'}: {f[1]}" for kind, f in records if kind == "violation"],
            "stopped": [(kind, f[0], f[1] if len(f) > 1 else "") for kind, f in records
                        if kind in ("blocked", "program")],
            "guard_errors": [f[0] for kind, f in records if kind == "guard-error"],
            "ended": any(kind == "end" for kind, _ in records)}
