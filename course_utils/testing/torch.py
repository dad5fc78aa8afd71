"""PyTorch test helpers: the built-ins blocked by every route, and parity with a built-in, forward and backward.

Stamped into the notebooks that use them (``make tidy``): edit them here, never in a notebook. A
notebook's stamped cell also holds ``FORBIDDEN_OPS`` and ``FORBIDDEN_ATTRIBUTES``, the lab's entry of
:mod:`course_utils.testing.rules`, which ``builtins_blocked()`` refuses by default.
"""
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from .common import attribute_targets, patched


def refuse_builtin(name, ops):
    """AssertionError when the function or kernel `name` contains one of the fragments in `ops`."""
    if any(op in name for op in ops):
        raise AssertionError(f"implement this from tensor operations, not with the built-in ({name})")


class NoBuiltinFunctions(TorchFunctionMode):
    """Refuses the torch-level functions named in `ops`: F.*, torch.*, Tensor methods, torch.ops.aten.*."""
    def __init__(self, ops):
        super().__init__()
        self.ops = ops

    def __torch_function__(self, func, types, args=(), kwargs=None):
        refuse_builtin(getattr(func, "__name__", ""), self.ops)
        return func(*args, **(kwargs or {}))


class NoBuiltinKernels(TorchDispatchMode):
    """Refuses the kernels named in `ops` themselves, however they were reached (an alias, a module, C++)."""
    def __init__(self, ops):
        super().__init__()
        self.ops = ops

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        refuse_builtin(str(func), self.ops)
        return func(*args, **(kwargs or {}))


def builtins_blocked(ops=None, attributes=None):
    """Context manager under which the lab's forbidden built-ins raise AssertionError (default: the
    stamped FORBIDDEN_OPS and FORBIDDEN_ATTRIBUTES): by name at the function level and at the kernel
    level, and the Python-level attributes replaced for the duration."""
    ops = FORBIDDEN_OPS if ops is None else ops  # noqa: F821 - stamped beside this function
    attributes = FORBIDDEN_ATTRIBUTES if attributes is None else attributes  # noqa: F821

    def refuse(*args, **kwargs):
        raise AssertionError("implement this from tensor operations, not with a built-in it reimplements")
    stack = patched(attribute_targets(attributes), refuse)
    stack.enter_context(NoBuiltinKernels(ops))
    stack.enter_context(NoBuiltinFunctions(ops))
    return stack


def blocked(module):
    """`module`, whose forward now always runs under builtins_blocked() (returns the same object)."""
    forward = type(module).forward

    def forward_blocked(*args, **kwargs):
        with builtins_blocked():
            return forward(module, *args, **kwargs)
    module.forward = forward_blocked
    return module


def paired(mine, ref, seed=0):
    """Give `mine` and the built-in `ref` the same random, non-trivial parameters (same names)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen).to(p.dtype) * 0.5 + (1.0 if name == "weight" else 0.0))
            getattr(mine, name).copy_(p)
    return mine, ref


def assert_matches_builtin(mine, ref, x, what):
    """Forward parity, shape and dtype included; the built-in runs first, then yours with the built-ins blocked."""
    with torch.no_grad():
        expected = ref(x)
        with builtins_blocked():
            got = mine(x)
    assert got.shape == expected.shape and got.dtype == expected.dtype, \
        f"{what}: expected shape {tuple(expected.shape)} {expected.dtype}, got {tuple(got.shape)} {got.dtype}"
    torch.testing.assert_close(got, expected, msg=lambda m: f"{what}: {m}")


def assert_same_gradients(mine, ref, x, seed=0):
    """Backward of sum(out * r) (yours with the built-ins blocked) for a random r: input and parameter gradients."""
    xa, xb = x.detach().clone().requires_grad_(), x.detach().clone().requires_grad_()
    out_b = ref(xb)
    r = torch.randn(out_b.shape, generator=torch.Generator().manual_seed(seed)).to(out_b.dtype)
    (out_b * r).sum().backward()
    with builtins_blocked():
        (mine(xa) * r).sum().backward()
    assert xa.grad is not None, "no gradient reached the input: is the forward pass cut from autograd?"
    torch.testing.assert_close(xa.grad, xb.grad, msg=lambda m: f"gradient w.r.t. the input differs: {m}")
    for name, p in ref.named_parameters():
        g = getattr(mine, name).grad
        assert g is not None, f"no gradient reached your {name!r}: is it used in forward (and not detached)?"
        torch.testing.assert_close(g, p.grad, msg=lambda m: f"gradient w.r.t. {name!r} differs: {m}")
