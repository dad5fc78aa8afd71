"""Framework-neutral test helpers: comparisons with NumPy, error messages, and blocking by attribute.

Every function here is *stamped* into the notebooks that use it (``make tidy``; see
``course_utils/testing/__init__.py``): edit it here, never in a notebook.
"""
import importlib
from contextlib import ExitStack
from unittest import mock

import numpy as np


def assert_close(actual, expected, what, rtol=1e-5, atol=1e-5):
    """Elementwise |actual - expected| <= atol + rtol * |expected| (NumPy's rule), with `what` in the message."""
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol,
                               err_msg=f"{what} (first: yours, second: expected)")


def raises_value_error(fn, *must_mention):
    """fn() must raise ValueError whose message mentions every value in must_mention; returns the message."""
    try:
        fn()
    except ValueError as err:
        message = str(err)
    else:
        raise AssertionError(f"expected a ValueError mentioning {must_mention}, but nothing was raised")
    for value in must_mention:
        assert str(value) in message, f"the ValueError should name {value!r}; its message was: {message!r}"
    return message


def attribute_targets(paths):
    """(owner, name) for each dotted path that exists here; a `*` in the owner's last part matches by pattern
    (`keras.layers.*Normalization.call`: the `call` of every keras.layers class whose name ends so)."""
    targets = []
    for path in paths:
        owner_path, name = path.rsplit(".", 1)
        parts = owner_path.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                owner = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            owners = [owner]
            for part in parts[cut:]:
                if "*" in part:
                    prefix, suffix = part.split("*", 1)
                    owners = [getattr(o, n) for o in owners for n in dir(o)
                              if n.startswith(prefix) and n.endswith(suffix) and isinstance(getattr(o, n), type)]
                else:
                    owners = [getattr(o, part) for o in owners if hasattr(o, part)]
            targets += [(o, name) for o in owners if callable(getattr(o, name, None))]
            break
    return targets


def patched(targets, refuse):
    """An ExitStack under which every (owner, name) in `targets` is `refuse`."""
    stack = ExitStack()
    try:
        for owner, name in targets:
            stack.enter_context(mock.patch.object(owner, name, refuse))
    except BaseException:
        stack.close()
        raise
    return stack
