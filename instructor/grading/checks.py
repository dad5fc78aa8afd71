"""The grader's verdicts: a submission's probe data judged against the solution's, in this process.

Nothing here runs student code or trusts a verdict from the kernel. :func:`decode` turns the recorder's
JSON back into values (arrays through ``numpy.frombuffer``); :func:`judge` scores every grade cell:

* ``assert`` sites: the expression from the lab's source is re-evaluated on the student's leaf values
  (comparisons, ``and``/``or``/``not``, ``isinstance``, ``torch.equal``, ``np.allclose`` ...);
* comparison sites (``assert_close`` and friends): the student's *actual* against the *expected* value
  that the instructor's solution computed in a clean kernel on the same inputs (same seed offset), at
  the call's tolerances (PyTorch's defaults per dtype where the call gives none), shapes and (for
  ``torch``) dtypes included;
* a cell passes when it ran to its end in both runs, with the same sequence of sites as the
  solution, every one of which passes, and no trace/profile hook active. Its points are all or nothing,
  as in nbgrader.

Feedback quotes the source line of a failed *visible* check; of a hidden one it says only what kind
of check failed and by how much, never its code.
"""
from __future__ import annotations

import base64
import json
import math
import operator
from dataclasses import dataclass

import numpy as np

from .probes import Probe, Site
from .recorder import LIMIT_BYTES, MIME

# torch.testing.assert_close's default (rtol, atol) by the expected value's dtype
TORCH_TOLERANCES = {"torch.float16": (1e-3, 1e-5), "torch.bfloat16": (1.6e-2, 1e-5), "torch.float32": (1.3e-6, 1e-5),
                    "torch.float64": (1e-7, 1e-7), "torch.complex64": (1.3e-6, 1e-5), "torch.complex128": (1e-7, 1e-7)}
CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
       "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}


class ProbeDataError(ValueError):
    """The probe's output is missing, duplicated or malformed."""


@dataclass(frozen=True)
class Opaque:
    """A value the recorder would not convert (an object, a type, a dtype name, an exception raised)."""
    kind: str      # "obj" | "type" | "name" | "raised"
    name: str
    mro: tuple = ()
    ident: int | None = None


class Seq(tuple):
    """A recorded list/tuple/range (compared as a tuple; ``py`` keeps its type for isinstance)."""
    py = "tuple"


@dataclass
class Array:
    value: np.ndarray
    dtype: str          # the framework's dtype name ("torch.float32", "float32", ...)
    scalar: bool = False
    mro: tuple = ()     # the recorded value's class and its bases (for isinstance)
    ident: int | None = None  # id() in the kernel (for ``is``)


def _decode_array(d: dict, key: str) -> Array:
    raw = base64.b64decode(d[key], validate=True)
    dtype = np.dtype(d["dtype"])
    if dtype.kind not in "biufc" or dtype.hasobject:
        raise ProbeDataError(f"array of dtype {dtype}")
    shape = tuple(int(n) for n in d["shape"])
    value = np.frombuffer(raw, dtype=dtype).reshape(shape) if raw or not shape or 0 in shape else np.zeros(shape, dtype)
    return Array(value, str(d.get("as", dtype)), key == "scalar", tuple(str(m) for m in d.get("mro", ())),
                 _ident(d))


def _ident(d: dict) -> int | None:
    return d["id"] if type(d.get("id")) is int else None


def decode(d):
    """The recorder's data back as values (raises :class:`ProbeDataError` on anything malformed)."""
    if d is None or type(d) in (bool, int, float, str):
        return d
    if type(d) is not dict or len(d) == 0:
        raise ProbeDataError(f"unexpected value {type(d).__name__}")
    if "seq" in d:
        seq = Seq(decode(v) for v in d["seq"])
        seq.py = d.get("py") if d.get("py") in ("list", "tuple", "range") else "tuple"
        return seq
    if "set" in d:
        items = [decode(v) for v in d["set"]]
        try:
            return frozenset(items)
        except TypeError:
            return tuple(items)
    if "dict" in d:
        return {_hashable(decode(k)): decode(v) for k, v in d["dict"]}
    if "float" in d:
        return float(d["float"])
    for key in ("array", "scalar"):
        if key in d:
            return _decode_array(d, key)
    for kind in ("obj", "type", "name", "raised"):
        if kind in d:
            return Opaque(kind, str(d[kind]), tuple(str(m) for m in d.get("mro", ())), _ident(d))
    raise ProbeDataError(f"unknown record {sorted(d)[:3]}")


def _hashable(v):
    return v if not isinstance(v, Array) else ("array", v.value.tobytes())


def plain(v):
    """Arrays as NumPy values (a 0-d array as its scalar), everything else as is."""
    if isinstance(v, Array):
        return v.value[()] if v.value.shape == () else v.value
    if isinstance(v, tuple):
        return tuple(plain(x) for x in v)
    return v


def truth(v) -> bool:
    if isinstance(v, Opaque):
        return False if v.kind == "raised" else True
    v = plain(v)
    if isinstance(v, np.ndarray):
        return bool(v.size) and bool(np.all(v))
    try:
        return bool(v)
    except Exception:
        return False


def _compare(op: str, a, b) -> bool:
    if isinstance(a, Opaque) and a.kind == "raised" or isinstance(b, Opaque) and b.kind == "raised":
        return False
    if op in ("is", "is not"):
        ids = [getattr(v, "ident", None) for v in (a, b)]
        same = (a is None and b is None) or (type(a) is bool and type(b) is bool and a == b) or (
            None not in ids and ids[0] == ids[1])
        return same if op == "is" else not same
    try:
        result = CMP[op](plain(a), plain(b))
        if isinstance(result, np.ndarray):
            return bool(result.size) and bool(np.all(result))
        return bool(result)
    except Exception:
        return False


def _mro(v) -> tuple:
    if isinstance(v, (Opaque, Array)):
        return v.mro
    if isinstance(v, Seq):
        return (f"builtins.{v.py}", "builtins.object")
    return tuple(f"{c.__module__}.{c.__qualname__}" for c in type(v).__mro__)


def _types(t) -> list[str]:
    items = t if isinstance(t, tuple) else (t,)
    names = []
    for item in items:
        if isinstance(item, Opaque) and item.kind == "type":
            names.append(item.name)
        else:
            return []
    return names


def _allclose(a, b, rtol, atol, equal_nan=False) -> bool:
    a, b = plain(a), plain(b)
    try:
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind not in "biufc" or b.dtype.kind not in "biufc":
            return False
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except Exception:
        return False


def _predicate(name: str, args: list, kwargs: dict) -> bool:
    if any(isinstance(v, Opaque) and v.kind == "raised" for v in [*args, *kwargs.values()]):
        return False
    if name in ("isinstance", "issubclass") and len(args) == 2:
        wanted = _types(args[1])
        chain = args[0].mro if name == "issubclass" and isinstance(args[0], Opaque) else _mro(args[0])
        if name == "issubclass" and isinstance(args[0], Opaque) and args[0].kind == "type":
            chain = (args[0].name, *args[0].mro)
        return bool(wanted) and any(w in chain for w in wanted)
    if name == "torch.equal" and len(args) == 2:
        a, b = args
        return isinstance(a, Array) and isinstance(b, Array) and a.value.shape == b.value.shape and \
            bool(np.array_equal(a.value, b.value))
    if name.endswith("array_equal") and len(args) >= 2:
        try:
            return bool(np.array_equal(plain(args[0]), plain(args[1]), equal_nan=truth(kwargs.get("equal_nan", False))))
        except Exception:
            return False
    if name.endswith("allclose") and len(args) >= 2:
        rtol = plain(kwargs.get("rtol", args[2] if len(args) > 2 else 1e-5))
        atol = plain(kwargs.get("atol", args[3] if len(args) > 3 else 1e-8))
        equal_nan = truth(kwargs.get("equal_nan", args[4] if len(args) > 4 else False))
        if name == "torch.allclose" and not (isinstance(args[0], Array) and isinstance(args[1], Array)):
            return False
        return _allclose(args[0], args[1], float(rtol), float(atol), equal_nan)
    if name == "math.isclose" and len(args) == 2:
        try:
            return math.isclose(float(plain(args[0])), float(plain(args[1])),
                                rel_tol=float(plain(kwargs.get("rel_tol", 1e-9))),
                                abs_tol=float(plain(kwargs.get("abs_tol", 0.0))))
        except Exception:
            return False
    return False


def evaluate(tree, leaves: list) -> bool:
    """Re-evaluate an assert's structure (:func:`instructor.grading.probes.shape`) on decoded leaves."""
    kind = tree[0]
    if kind == "and":
        return all(evaluate(t, leaves) for t in tree[1])
    if kind == "or":
        return any(evaluate(t, leaves) for t in tree[1])
    if kind == "not":
        inner = tree[1]
        if inner[0] == "leaf" and isinstance(leaves[inner[1]], Opaque) and leaves[inner[1]].kind == "raised":
            return False
        return not evaluate(inner, leaves)
    if kind == "cmp":
        values = [leaves[i] for i in tree[1]]
        return all(_compare(op, values[i], values[i + 1]) for i, op in enumerate(tree[2]))
    if kind == "pred":
        return _predicate(tree[1], [leaves[i] for i in tree[2]], {k: leaves[i] for k, i in tree[3].items()})
    return truth(leaves[tree[1]])


def _sequence(v):
    return v if isinstance(v, tuple) else None


def close(kind: str, actual, expected, kwargs: dict) -> tuple[bool, str]:
    """(passes, what differs) for a comparison site; ``kwargs`` are the solution's tolerances."""
    if isinstance(actual, Opaque) and actual.kind == "raised":
        return False, f"computing the value raised {actual.name}"
    if isinstance(expected, Opaque):
        return False, "the reference value is not data"
    if isinstance(actual, dict) or isinstance(expected, dict):
        if not (isinstance(actual, dict) and isinstance(expected, dict)) or set(actual) != set(expected):
            return False, "different keys"
        for key in expected:
            ok, why = close(kind, actual[key], expected[key], kwargs)
            if not ok:
                return False, why
        return True, ""
    seq_a, seq_e = _sequence(actual), _sequence(expected)
    if seq_e is not None and not all(isinstance(v, (int, float)) for v in seq_e):
        if seq_a is None or len(seq_a) != len(seq_e):
            return False, "a different number of values"
        for a, e in zip(seq_a, seq_e):
            ok, why = close(kind, a, e, kwargs)
            if not ok:
                return False, why
        return True, ""
    if isinstance(actual, Opaque):
        return False, f"got {actual.name}, not numbers"
    try:
        a, e = np.asarray(plain(actual)), np.asarray(plain(expected))
    except Exception:
        return False, "not numbers"
    if a.dtype.kind not in "biufc":
        return False, "not numbers"
    if kind == "torch":
        if a.shape != e.shape:
            return False, f"shape {a.shape} instead of {e.shape}"
        a_dtype = actual.dtype if isinstance(actual, Array) else "python"
        e_dtype = expected.dtype if isinstance(expected, Array) else "python"
        if truth(kwargs.get("check_dtype", True)) and a_dtype != e_dtype and "python" not in (a_dtype, e_dtype):
            return False, f"dtype {a_dtype} instead of {e_dtype}"
        default = TORCH_TOLERANCES.get(e_dtype, (1e-7, 1e-7) if e.dtype.kind in "fc" else (0.0, 0.0))
        rtol = float(plain(kwargs["rtol"])) if "rtol" in kwargs else default[0]
        atol = float(plain(kwargs["atol"])) if "atol" in kwargs else default[1]
        equal_nan = truth(kwargs.get("equal_nan", False))
    else:
        if a.shape != e.shape and a.size != 1 and e.size != 1:
            return False, f"shape {a.shape} instead of {e.shape}"
        exact = kind == "equal"
        rtol = 0.0 if exact else float(plain(kwargs.get("rtol", 1e-7)))
        atol = 0.0 if exact else float(plain(kwargs.get("atol", 0.0)))
        equal_nan = True if exact else truth(kwargs.get("equal_nan", True))
    try:
        ok = bool(np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except Exception:
        return False, "values that cannot be compared"
    if ok:
        return True, ""
    with np.errstate(all="ignore"):
        diff = np.abs(a.astype(np.complex128 if "c" in (a.dtype.kind, e.dtype.kind) else np.float64) - e)
    worst = float(np.nanmax(diff)) if diff.size and not np.all(np.isnan(diff)) else float("nan")
    return False, f"values differ from the reference (largest difference {worst:.3g}; rtol {rtol:g}, atol {atol:g})"


def read_payload(outputs: list, nonce: str) -> dict:
    """The probe's one published document among a cell's outputs."""
    found = [o for o in outputs if o.get("output_type") in ("display_data", "execute_result")
             and MIME in o.get("data", {})]
    if not found:
        raise ProbeDataError("the probe published nothing (it did not run to its end)")
    if len(found) > 1:
        raise ProbeDataError(f"the probe's output appeared {len(found)} times")
    text = found[0]["data"][MIME]
    if not isinstance(text, str) or len(text) > LIMIT_BYTES + 4096:
        raise ProbeDataError("the probe's output is not a document of the expected size")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ProbeDataError(f"the probe's output is not JSON ({err.msg})") from None
    if not isinstance(doc, dict) or doc.get("nonce") != nonce or not isinstance(doc.get("runs"), list):
        raise ProbeDataError("the probe's output does not come from this run")
    if doc.get("refused"):
        raise ProbeDataError(str(doc["refused"])[:200])
    return doc


def merge(docs: list[dict]) -> dict:
    """The probe documents of a submission's phases as one: each offset's cells together."""
    runs: dict = {}
    replaced: list = []
    for doc in docs:
        replaced += [r for r in doc.get("replaced", []) if r not in replaced]
        for run in doc.get("runs", []):
            if isinstance(run, dict) and isinstance(run.get("cells"), dict):
                runs.setdefault(run.get("offset"), {}).update(run["cells"])
    return {"runs": [{"offset": o, "cells": c} for o, c in runs.items()], "replaced": replaced}


def read_cells(cells: list, nonce: str) -> tuple[dict, list[str]]:
    """(the merged document, problems) from the executed probe cells of one run."""
    docs, problems = [], []
    for cell in cells:
        try:
            docs.append(read_payload(cell.get("outputs", []), nonce))
        except ProbeDataError as err:
            problems.append(str(err))
    return merge(docs), problems


@dataclass
class Verdict:
    """One grade cell: passed or not, and a message for the student (empty when passed)."""
    grade_id: str
    passed: bool
    points: float
    message: str = ""


def _describe(site: Site, why: str) -> str:
    where = "a hidden check" if site.hidden else f"line {site.line}: {site.text}"
    return f"{where} — {why}" if why else where


def judge_cell(probe: Probe, grade_id: str, student: dict | None, solution: dict) -> tuple[bool, str]:
    """(passed, message) for one grade cell from the student's and the solution's records of it."""
    if student is None:
        return False, "the checks of this cell did not run"
    if student.get("hooked"):
        return False, "a trace or profile hook (sys.settrace/sys.setprofile) was active during the checks"
    s_events, r_events = student.get("events", []), solution.get("events", [])
    for index, ref in enumerate(r_events):
        site = probe.sites.get(ref[1])
        if index >= len(s_events):
            error = student.get("error")
            why = f"raised {error}" if error else "stopped early"
            return False, _describe(site, why) if site else why
        got = s_events[index]
        if not isinstance(got, list) or len(got) < 3 or got[:2] != ref[:2] or ref[0] not in ("assert", "close"):
            return False, _describe(site, "the checks ran in a different order (an exception or a changed loop?)")
        try:
            if ref[0] == "assert":
                leaves = [decode(v) for v in got[2]]
                if len(leaves) != len(ref[2]) or not evaluate(site.tree, leaves):
                    raised = [v.name for v in leaves if isinstance(v, Opaque) and v.kind == "raised"]
                    return False, _describe(site, f"raised {raised[0]}" if raised else "the assertion is false")
            else:
                ok, why = close(site.kind, decode(got[2]), decode(ref[3]), {k: decode(v) for k, v in ref[4].items()})
                if not ok:
                    return False, _describe(site, why)
        except ProbeDataError as err:
            return False, _describe(site, f"malformed data ({err})")
    if len(s_events) != len(r_events):
        return False, "more checks ran than in the reference (a changed loop?)"
    if student.get("error"):
        return False, f"the test cell raised {student['error']} after its checks"
    return True, ""


def judge(probe: Probe, doc: dict, reference: dict, offset: int) -> list[Verdict]:
    """Every grade cell's verdict from the student's probe document against the solution's run at ``offset``."""
    runs = [r for r in doc.get("runs", []) if isinstance(r, dict) and r.get("offset") == offset]
    cells = runs[0].get("cells", {}) if len(runs) == 1 and isinstance(runs[0].get("cells"), dict) else {}
    solution = reference["runs"][str(offset)]
    replaced = [str(n)[:40] for n in doc.get("replaced", [])][:5]
    verdicts = []
    for grade_id in probe.order:
        if replaced:
            passed, message = False, f"student code replaced Python's built-in {', '.join(replaced)}; no check can run"
        else:
            passed, message = judge_cell(probe, grade_id, cells.get(grade_id), solution[grade_id])
        verdicts.append(Verdict(grade_id, passed, probe.points[grade_id] if passed else 0.0, message))
    return verdicts


def self_check(probe: Probe, doc: dict) -> tuple[dict, list[str]]:
    """The solution's probe document as a reference: its runs by offset, each cell checked against
    itself (actual vs its own expected). Returns (reference, problems); an offset whose run fails its
    own checks is left out and named in ``problems``."""
    reference, problems = {"runs": {}}, []
    for run in doc.get("runs", []):
        offset, cells = run["offset"], run["cells"]
        failed = []
        for grade_id in probe.order:
            # judged against itself: every comparison's actual side against its own expected side
            ok, why = judge_cell(probe, grade_id, cells.get(grade_id), cells.get(grade_id) or {"events": []})
            if not ok:
                failed.append(f"{grade_id}: {why}")
        if failed:
            problems.append(f"offset {offset}: " + "; ".join(failed))
        else:
            reference["runs"][str(offset)] = cells
    return reference, problems
