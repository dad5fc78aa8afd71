"""The probe's recorder: runs inside the grading kernel, after the student's cells, and reports data only.

This module is not imported by the kernel: its source text is the first part of the probe cell that the
run stage appends to a submission (:mod:`instructor.grading.probes` builds the rest). It records, for
every assertion and comparison in the lab's test cells (hidden ones included), the *values* they look
at, never a verdict, and publishes them once, at the end, as one JSON document (``MIME``): arrays as
base64 of their bytes with dtype and shape, so the grader reads them with ``numpy.frombuffer``, never by
unpickling or running anything. The grader judges (:mod:`instructor.grading.checks`).

Values are converted only when their type is exactly a library's own (``numpy.ndarray``, a NumPy scalar,
``torch.Tensor``/``nn.Parameter``, a TensorFlow eager tensor or Keras variable): an object of a class the
student wrote (a tensor subclass that lies about its values, say) is recorded by type name and equals
nothing. Everything here is importable without a kernel, so the tests exercise it in-process.
"""
import base64
import sys

MIME = "application/vnd.course-probe+json"
LIMIT_BYTES = 32 * 2 ** 20  # one submission's probe data; more is refused (reported as malformed)
BUILTIN_NAMES = ("abs", "all", "any", "bool", "callable", "dict", "enumerate", "float", "frozenset", "getattr",
                 "hasattr", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next",
                 "range", "repr", "round", "set", "sorted", "str", "sum", "tuple", "type", "zip", "compile", "exec")


def _qualname(cls) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', getattr(cls, '__name__', '?'))}"


def _array(arr, tag="array", dtype_name=None):
    import numpy as np

    arr = np.ascontiguousarray(arr)
    if arr.dtype.kind not in "biufc":
        return {"obj": f"array of {arr.dtype}"}
    return {tag: base64.b64encode(arr.tobytes()).decode("ascii"), "dtype": arr.dtype.str,
            "shape": list(arr.shape), "as": dtype_name or str(arr.dtype)}


def _torch_tensor(x):
    import torch

    if type(x) not in (torch.Tensor, torch.nn.Parameter):
        return None
    base = torch.Tensor
    t = base.detach(x)
    if t.layout != torch.strided:
        t = t.to_dense()
    t = t.cpu()
    name = str(t.dtype)
    if t.dtype in (torch.bfloat16, getattr(torch, "float8_e4m3fn", None), getattr(torch, "float8_e5m2", None)):
        t = t.float()
    out = _array(t.resolve_conj().resolve_neg().numpy(), dtype_name=name)
    out["requires_grad"] = bool(x.requires_grad)
    out["mro"] = [_qualname(c) for c in type(x).__mro__]
    return out


def _tf_tensor(x):
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    module = type(x).__module__ or ""
    if not (module.startswith(("tensorflow.", "keras.")) and type(x).__name__ in (
            "EagerTensor", "Variable", "ResourceVariable", "UninitializedVariable")):
        return None
    value = x.value if type(x).__name__ == "Variable" and module.startswith("keras.") else x
    if type(value).__name__ != "EagerTensor":
        value = tf.convert_to_tensor(value)
    if type(value).__name__ != "EagerTensor":
        return None
    name = value.dtype.name
    if name == "bfloat16":
        value = tf.cast(value, tf.float32)
    out = _array(value.numpy(), dtype_name=name)
    out["mro"] = [_qualname(c) for c in type(x).__mro__][:40]
    return out


def data(x, depth=0):
    """``x`` as JSON-able data (see the module docstring), with ``id`` for identity checks (``is``)."""
    out = _data(x, depth)
    if type(out) is dict and "raised" not in out:
        out["id"] = id(x)
    return out


def _data(x, depth):
    if depth > 6:
        return {"obj": "nesting too deep"}
    if x is None or type(x) in (bool, int, float, str):
        if type(x) is str:
            return x[:2000]
        if type(x) is int and abs(x) > 2 ** 62:
            return {"obj": "int too large"}
        if type(x) is float and x != x:
            return {"float": "nan"}
        if type(x) is float and x in (float("inf"), float("-inf")):
            return {"float": "inf" if x > 0 else "-inf"}
        return x
    if type(x) in (tuple, list, range):
        return {"seq": [data(v, depth + 1) for v in list(x)[:10000]], "py": type(x).__name__}
    if type(x) in (set, frozenset):
        return {"set": [data(v, depth + 1) for v in list(x)[:10000]], "py": type(x).__name__}
    if type(x) is dict:
        return {"dict": [[data(k, depth + 1), data(v, depth + 1)] for k, v in list(x.items())[:10000]]}
    np = sys.modules.get("numpy")
    if np is not None and type(x) is np.ndarray:
        return dict(_array(x), mro=[_qualname(c) for c in type(x).__mro__])
    if np is not None and type(x) in set(np.sctypeDict.values()):
        return dict(_array(np.asarray(x), tag="scalar"), mro=[_qualname(c) for c in type(x).__mro__])
    torch = sys.modules.get("torch")
    if torch is not None:
        if type(x) in (torch.dtype, torch.device, torch.Size):
            return {"seq": [data(v) for v in x]} if type(x) is torch.Size else {"name": str(x)}
        converted = _torch_tensor(x)
        if converted is not None:
            return converted
    converted = _tf_tensor(x)
    if converted is not None:
        return converted
    if np is not None and type(x) is np.dtype:
        return {"name": str(x)}
    if type(x).__name__ == "DType" and (type(x).__module__ or "").startswith("tensorflow"):
        return {"name": x.name}
    if isinstance(x, type):
        return {"type": _qualname(x)}
    return {"obj": _qualname(type(x)), "mro": [_qualname(c) for c in type(x).__mro__][:40]}


class Recorder:
    """Collects one probe run's events; ``publish`` sends them as one display output."""

    def __init__(self, nonce: str, reference: bool = False):
        self.reference = reference  # the solution's run: only it evaluates the expected side of comparisons
        self.nonce, self.runs, self.cell, self.replaced, self._offset = nonce, [], None, [], 0
        self._gettrace, self._getprofile = sys.gettrace, sys.getprofile

    def start(self, offset: int) -> None:
        self.runs.append({"offset": offset, "cells": {}})
        self._offset = offset

    def offset(self, seed):
        """A seed the tests set, shifted by this run's offset (None and non-integers pass unchanged)."""
        return seed + self._offset if type(seed) is int else seed

    def audit_builtins(self) -> None:
        """Python's built-in functions and types the tests rely on must be CPython's own: a Python-level
        replacement (``builtins.isinstance = ...``) would judge inside the student's process."""
        import builtins
        import types

        replaced = []
        for name in BUILTIN_NAMES:
            value = getattr(builtins, name, None)
            if isinstance(value, type):
                own = not value.__flags__ & (1 << 9) and value.__module__ == "builtins"  # not a heap type
            else:
                own = type(value) is types.BuiltinFunctionType and getattr(value, "__self__", None) is builtins
            if not own:
                replaced.append(name)
        self.replaced = replaced

    def begin(self, grade_id: str) -> None:
        self.cell = self.runs[-1]["cells"].setdefault(grade_id, {"events": [], "error": None, "hooked": False})

    def _event(self, event: list) -> None:
        if self.cell is None:
            return
        if self._gettrace() is not None or self._getprofile() is not None:
            self.cell["hooked"] = True  # a trace/profile hook could rewrite the probe's variables
        self.cell["events"].append(event)

    def _value(self, thunk):
        try:
            return data(thunk())
        except Exception as err:  # the grader sees the exception's type, never its message
            return {"raised": type(err).__name__}

    def check(self, site: int, *leaves) -> None:
        """An ``assert``: the values of its leaves (the grader re-evaluates the expression on them)."""
        self._event(["assert", site, [self._value(leaf) for leaf in leaves]])

    def close(self, site: int, actual, expected, **kwargs) -> None:
        """An ``assert_close``/``assert_allclose``/``assert_array_equal``: the actual side, and in the
        solution's run also the expected side and the tolerances. A student's run never evaluates the
        expected side: the grader compares with the solution's, so the built-in's answer is not computed
        where student code could pick it up."""
        if not self.reference:  # (the student's probe passes no expected side at all)
            self._event(["close", site, self._value(actual), None, {}])
            return
        self._event(["close", site, self._value(actual), self._value(expected),
                     {k: self._value(v) for k, v in kwargs.items()}])

    def error(self, err: BaseException) -> None:
        """The test cell stopped with an exception (its type name only)."""
        if self.cell is not None and self.cell["error"] is None:
            self.cell["error"] = type(err).__name__

    def reseed(self, seed: int) -> None:
        """Every global generator the labs use, and the frameworks' default float type, so that a cell's
        inputs never depend on what ran before (a student's ``torch.set_default_dtype(torch.float64)``)."""
        import random

        random.seed(seed)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(seed % 2 ** 32)
        if "torch" in sys.modules:
            sys.modules["torch"].manual_seed(seed)
            sys.modules["torch"].set_default_dtype(sys.modules["torch"].float32)  # as the solution's run has it
        if "keras" in sys.modules:
            sys.modules["keras"].utils.set_random_seed(seed % 2 ** 32)
            sys.modules["keras"].config.set_floatx("float32")
        elif "tensorflow" in sys.modules:
            sys.modules["tensorflow"].random.set_seed(seed)

    def payload(self) -> str:
        import json

        text = json.dumps({"nonce": self.nonce, "runs": self.runs, "replaced": self.replaced}, allow_nan=False)
        if len(text) > LIMIT_BYTES:
            text = json.dumps({"nonce": self.nonce, "runs": [], "refused": f"probe data of {len(text)} bytes"})
        return text

    def publish(self) -> None:
        from IPython.display import display

        display({MIME: self.payload()}, raw=True)
