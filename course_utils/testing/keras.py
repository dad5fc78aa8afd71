"""Keras/TensorFlow test helpers: the built-ins blocked wherever they are defined, and parity with a built-in.

Stamped into the notebooks that use them (``make tidy``): edit them here, never in a notebook. A
notebook's stamped cell also holds ``FORBIDDEN_OPS`` and ``FORBIDDEN_ATTRIBUTES``, the lab's entry of
:mod:`course_utils.testing.rules`, which ``builtins_blocked()`` refuses by default.
"""
import sys
from contextlib import ExitStack

import keras
import numpy as np
import tensorflow as tf

from .common import assert_close, attribute_targets, patched


def builtin_targets(ops):
    """(module, name) of every function named in `ops` in every loaded keras/tensorflow module: the front
    end (keras.ops, tf.nn), the backends and the generated raw ops, so that a call through any of them
    that looks its callee up by name is refused."""
    wanted, targets = frozenset(ops), []
    for module in list(sys.modules.values()):
        if not str(getattr(module, "__name__", "")).startswith(("keras", "tensorflow", "tf_keras")):
            continue
        namespace = getattr(module, "__dict__", {})
        if isinstance(namespace, dict) and namespace.keys().isdisjoint(wanted):
            continue  # most modules define none of them (checked in C, over the shorter side)
        targets += [(module, name) for name in ops if callable(namespace.get(name))]
    return targets


def builtins_blocked(ops=None, attributes=None):
    """Context manager under which the lab's forbidden built-ins raise AssertionError (default: the
    stamped FORBIDDEN_OPS and FORBIDDEN_ATTRIBUTES): the functions wherever defined, and the attributes
    (the `call` of every keras.layers.*Normalization class, ...) replaced for the duration."""
    ops = FORBIDDEN_OPS if ops is None else ops  # noqa: F821 - stamped beside this function
    attributes = FORBIDDEN_ATTRIBUTES if attributes is None else attributes  # noqa: F821

    def refuse(*args, **kwargs):
        raise AssertionError("implement this from elementary operations, not with a built-in it reimplements "
                             "(keras.layers.*Normalization, keras.ops.*_normalization, tf.nn.*, ...)")

    def refuse_method(self, inputs=None, *args, **kwargs):  # Keras reads a layer's input from call's signature
        refuse()
    stack = patched(builtin_targets(ops), refuse)
    stack.enter_context(patched(attribute_targets(attributes), refuse_method))
    return stack


def assert_matches_builtin(mine, ref, x, what):
    """Forward parity, shape and dtype included: the built-in runs first, then yours with the built-ins blocked."""
    expected = ref(x)
    with builtins_blocked():
        got = mine(x)
    assert tuple(got.shape) == tuple(expected.shape) and got.dtype == expected.dtype, \
        f"{what}: expected shape {tuple(expected.shape)} {expected.dtype}, got {tuple(got.shape)} {got.dtype}"
    assert_close(got, expected, what)


def affine_weights(layer):
    """The layer's scale and offset variables, those that exist: gamma (Keras' RMSNormalization: scale), beta."""
    return [v for v in (getattr(layer, name, None) for name in ("gamma", "scale", "beta"))
            if isinstance(v, keras.Variable)]


def gradients(layer, x, seed=0, blocked=False):
    """d(sum(w * layer(x)))/d(x, gamma, beta) for a fixed random w (blocked: with the built-ins blocked).
    A weight the tape does not watch (not trainable) gets None."""
    w = tf.constant(np.random.default_rng(seed + 3000).normal(size=x.shape).astype("float32"))
    with (builtins_blocked() if blocked else ExitStack()), tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(w * layer(x))
    return tape.gradient(loss, [x] + affine_weights(layer))
