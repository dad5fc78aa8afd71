"""Grader trust: verdicts are formed outside the kernel, the sandbox is an allow-list, honest code is never flagged.

* From inside a grading kernel, what must be absent is absent (another checkout of the course, its
  ``source/`` and ``.git``, an LMS download folder, a classmate's file, host Unix sockets — named and
  abstract —, the network, other processes), for Python code and for programs it starts; the kernel's
  working folder is empty and holds no hidden-test text.
* A wrong answer is graded alone and then with each trick of a class of attacks added to it. No trick
  may score more than the wrong answer alone. The one class that can reach the built-in's values —
  subverting the grader's probe inside the student's own process — must at least be reported for review.
* Planted symlinks change no file outside the sandbox, and the gradebook keeps its mode.
* A corpus of honest submissions in different styles earns full marks with no finding at all; one
  that delegates to the built-in gets a review note instead.
Each class is graded once (one grading run per lab) and every assertion reads from it.
"""
import os
import re
import shutil
import socket
import stat
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest

from classroom import LIMITS, Lab, dump, keep_cache, seed_cache
from instructor import pipeline
from instructor.from_scratch import MUST_NOT_CALL
from instructor.grading import Status, record
from instructor.notebooks import ROOT, labs

BWRAP = shutil.which("bwrap")
# host paths outside the temporary folder (a tmpfs inside the sandbox); one per pytest worker
OUTSIDE = ROOT / "build" / f"trust-outside-{os.getpid()}"
ABSTRACT = f"\0course-trust-{os.getpid()}"


def require_bwrap():
    if BWRAP is None:
        message = "bubblewrap (bwrap) is not installed: `make test` installs it (Debian package bubblewrap)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def run_in_sandbox(code: str, warm: tuple = ()) -> str:
    """Run ``code`` as one cell in a grading sandbox kernel (run.execute, the real path): a cold one, or
    one forked from this thread's zygote with ``warm`` imported (instructor/zygote.py); what it printed."""
    from instructor.grading.run import execute
    from instructor.grading.types import Limits

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    with tempfile.TemporaryDirectory(prefix="trust-sandbox-") as work:
        died, out_of_time, _ = execute(nb, Limits(cell_seconds=60, notebook_seconds=120), Path(work), warm)
    assert died is None and not out_of_time
    return "".join(o.get("text", "") + o.get("evalue", "") for o in nb.cells[0].outputs)


# what a zygote imports for pt01: its setup cell's framework modules (instructor.grading.run.warm_of), then
# modules its checks load at their first use (instructor.zygote.ahead); and for the TensorFlow labs
WARM = ("matplotlib.pyplot", "numpy", "torch", "torch._dynamo", "torch.distributed.tensor")
WARM_TF = ("keras", "matplotlib.pyplot", "numpy", "tensorflow")


@pytest.fixture(scope="module")
def outside():
    """Host things the kernel must not reach: a course checkout, a download folder, sockets, a canary."""
    shutil.rmtree(OUTSIDE, ignore_errors=True)
    (OUTSIDE / "other-checkout" / "source" / "lab").mkdir(parents=True)
    (OUTSIDE / "other-checkout" / "source" / "lab" / "lab.ipynb").write_text("HIDDEN TESTS of another checkout")
    (OUTSIDE / "downloads" / "classmate").mkdir(parents=True)
    (OUTSIDE / "downloads" / "classmate" / "answer.py").write_text("CLASSMATE ANSWER = 1\n")
    (OUTSIDE / "canary.txt").write_text("CANARY")
    os.chmod(OUTSIDE / "canary.txt", 0o644)
    named = socket.socket(socket.AF_UNIX)
    named.bind(str(OUTSIDE / "host.sock"))
    named.listen(4)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(ABSTRACT)
    abstract.listen(4)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    stop = threading.Event()

    def accept_all():  # a connection that gets through is answered, so it shows as OPEN
        for s in (named, abstract, tcp):
            s.settimeout(0.2)
        while not stop.is_set():
            for s in (named, abstract, tcp):
                try:
                    s.accept()[0].sendall(b"HOST")
                except OSError:
                    pass
    thread = threading.Thread(target=accept_all, daemon=True)
    thread.start()
    yield {"root": OUTSIDE, "port": tcp.getsockname()[1]}
    stop.set()
    thread.join(2)
    for s in (named, abstract, tcp):
        s.close()
    shutil.rmtree(OUTSIDE, ignore_errors=True)


@pytest.mark.xdist_group("trust-sandbox")
@pytest.mark.parametrize("warm", [(), WARM, WARM_TF], ids=["cold", "zygote", "zygote-tf"])
def test_the_sandbox_shows_only_what_the_kernel_needs(outside, warm, monkeypatch):
    require_bwrap()
    monkeypatch.setenv("LMS_API_TOKEN", "HOST-TOKEN")  # an instructor's secret in the grader's environment
    root, port = outside["root"], outside["port"]
    code = f"""
import os, socket, subprocess, sys
def tried(label, fn):
    try:
        result = fn()
        print(label, 'OPEN', repr(result)[:60])
    except Exception as err:
        print(label, 'DENIED', type(err).__name__)
def connect(family, address):
    s = socket.socket(family)
    s.settimeout(2)
    s.connect(address)
    return s.recv(4)
print('cwd-empty', os.listdir('.') == [])
print('umount', subprocess.run(['umount', '-l', '/usr'], capture_output=True).returncode)
print('mount', subprocess.run(['mount', '--bind', '/', '/tmp'], capture_output=True).returncode)
tried('checkout-source', lambda: os.listdir({str(ROOT / 'source')!r}))
tried('checkout-git', lambda: os.listdir({str(ROOT / '.git')!r}))
tried('checkout-tests', lambda: os.listdir({str(ROOT / 'tests')!r}))
tried('other-checkout', lambda: open({str(root / 'other-checkout/source/lab/lab.ipynb')!r}).read())
tried('downloads', lambda: os.listdir({str(root / 'downloads')!r}))
tried('classmate', lambda: open({str(root / 'downloads/classmate/answer.py')!r}).read())
tried('proc-1-root', lambda: os.listdir('/proc/1/root' + {str(root)!r}))
tried('host-socket', lambda: connect(socket.AF_UNIX, {str(root / 'host.sock')!r}))
tried('abstract-socket', lambda: connect(socket.AF_UNIX, {ABSTRACT!r}))
import glob, stat
tried('run-sockets', lambda: [p for p in glob.glob('/run/**', recursive=True) + glob.glob('/var/run/**', recursive=True)
                              if stat.S_ISSOCK(os.lstat(p).st_mode)] or 1/0)
tried('loopback', lambda: connect(socket.AF_INET, ('127.0.0.1', {port})))
tried('dns', lambda: socket.getaddrinfo('pypi.org', 443))
tried('signal-grader', lambda: os.kill({os.getpid()}, 0))
tried('see-grader', lambda: open('/proc/{os.getpid()}/status').read())
tried('shell-source', lambda: subprocess.run(['ls', {str(ROOT / 'source')!r}], capture_output=True, check=True).stdout)
tried('shell-classmate', lambda: subprocess.run(['cat', {str(root / 'downloads/classmate/answer.py')!r}],
                                                capture_output=True, check=True).stdout)
print('top', sorted(os.listdir('/')))
print('caps', [ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('CapEff')])
print('imports', __import__('torch').__name__, __import__('course_utils').__name__)
print('mode', __import__('course_utils.runtime').runtime.resolve_mode('full'))
print('environment', sorted(os.environ))
"""
    out = run_in_sandbox(code, warm)
    assert "cwd-empty True" in out, out
    assert re.search(r"umount [1-9]", out) and re.search(r"mount [1-9]", out), out
    for label in ("checkout-source", "checkout-git", "checkout-tests", "other-checkout", "downloads", "classmate",
                  "proc-1-root", "host-socket", "abstract-socket", "run-sockets", "loopback", "dns", "signal-grader",
                  "see-grader", "shell-source", "shell-classmate"):
        assert f"{label} DENIED" in out, f"{label} was not denied:\n{out}"
    assert "caps ['0000000000000000']" in out, out
    top = re.search(r"top (\[.*\])", out).group(1)
    assert not {"home", "var", "srv", "mnt", "opt", "media", "boot"} & set(eval(top)), top
    assert "imports torch course_utils" in out, out
    assert "mode quick" in out, "grading must run the labs in quick mode (NBGRADER_EXECUTION), whatever MODE says"
    assert "HIDDEN" not in out and "CLASSMATE" not in out and "HOST" not in out
    from instructor.sandbox_kernel import KERNEL_ENV, KERNEL_ENV_PREFIXES

    names = eval(re.search(r"environment (\[.*\])", out).group(1))
    sandbox = {"HOME", "MPLCONFIGDIR", "TMPDIR", "PWD",  # bubblewrap's (instructor/sandbox_kernel.py), then ipykernel's
               "PAGER", "GIT_PAGER", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "MPLBACKEND", "PYDEVD_USE_FRAME_EVAL"}
    extra = [n for n in names if n not in KERNEL_ENV and not n.startswith(KERNEL_ENV_PREFIXES) and n not in sandbox]
    assert not extra, f"the grader's environment reached the kernel: {extra}"


@pytest.mark.xdist_group("trust-sandbox")
@pytest.mark.parametrize("warm", [WARM, WARM_TF], ids=["torch", "tensorflow"])
def test_a_forked_kernel_starts_from_the_zygote_never_from_the_last_submission(warm):
    """Two submissions in a row through one zygote: the first leaves everything it can (a process, files in
    /tmp, home, /dev/shm and the zygote's jobs folder, a patched module, a queued request on the zygote's
    socket, a SysV segment, an abstract socket, a replaced socket file, locked folders); the second finds
    none of it, and a kernel of its own."""
    require_bwrap()
    from instructor import zygote
    from instructor.grading.run import thread_env
    from instructor.grading.types import Limits

    lab = "pt01_batchnorm" if "torch" in warm else "tf02_layernorm_rmsnorm"
    setup = zygote.warm_modules(next(c.source for c in nbformat.read(ROOT / "source" / lab / f"{lab}.ipynb",
                                                                     as_version=4).cells
                                     if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"))
    assert {m.split(".")[0] for m in setup} == {m.split(".")[0] for m in warm}, (setup, warm)
    framework = "torch" if "torch" in warm else "tensorflow"
    # framework state a submission can change: torch's default dtype, Keras' float type and its global seed
    change = ("framework.set_default_dtype(framework.float64)" if "torch" in warm else
              "import keras; keras.config.set_floatx('float64'); keras.utils.set_random_seed(7); "
              "framework.constant(1.0)")
    state = ("str(framework.get_default_dtype())" if "torch" in warm else
             "__import__('keras').config.floatx()")
    first = run_in_sandbox("""
import os, socket, subprocess, sys, numpy
import {framework} as framework
{change}
framework.leftover = numpy.leftover = 'from the first submission'
sys.modules['leftover_module'] = framework
os.environ['LEFTOVER'] = '1'
for path in ('/tmp/leftover', os.path.expanduser('~/leftover'), '/dev/shm/leftover', '../../leftover'):
    try:
        open(path, 'w').write('x')
    except OSError as err:
        print('could not write', path, type(err).__name__)
os.makedirs('/tmp/locked/inner'); os.chmod('/tmp/locked', 0)
daemon = subprocess.Popen(['sleep', '600'], start_new_session=True)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print('sysv', libc.shmget(0x5eed, 4096, 0o1666))  # IPC_CREAT | 0666: a segment that outlives its process
listener = socket.socket(socket.AF_UNIX); listener.bind('\\0course-leftover'); listener.listen(1)
sock = [p for p in os.listdir('../..') if p.endswith('.sock')]
for name in sock:  # a request queued behind this job, in the grader's name
    s = socket.socket(socket.AF_UNIX); s.connect('../../' + name)
    s.sendall(b'{"connection_file": "/tmp/x.json", "cwd": "/tmp", "env": {}, "memory_mb": 64, "file_mb": 1}\\n')
print('first', os.getpid(), daemon.pid, 'sockets', len(sock))
for name in sock:  # the zygote's socket file replaced by one of this kernel's (the next kernel must still start)
    os.rename('../../' + name, '../../moved.sock')
    fake = socket.socket(socket.AF_UNIX); fake.bind('../../' + name); fake.listen(1)
os.chmod('/tmp', 0); os.chmod('/dev/shm', 0); os.chmod('../..', 0)
""".replace("{framework}", framework).replace("{change}", change), warm)
    assert "first" in first and "sockets 1" in first, first
    second = run_in_sandbox("""
import os, sys, numpy
import {framework} as framework
print('module-state', hasattr(framework, 'leftover'), hasattr(numpy, 'leftover'), 'leftover_module' in sys.modules,
      'LEFTOVER' in os.environ)
print('framework-state', {state})
print('files', [p for p in ('/tmp/leftover', os.path.expanduser('~/leftover'), '/dev/shm/leftover', '../../leftover',
                            '/tmp/locked') if os.path.lexists(p)])
mine = {os.getpid(), os.getppid(), 1}
print('processes', sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in mine))
import ctypes, socket
print('sysv', ctypes.CDLL(None, use_errno=True).shmget(0x5eed, 0, 0))
try:
    s = socket.socket(socket.AF_UNIX); s.connect('\\0course-leftover'); print('abstract reached')
except OSError:
    print('abstract gone')
print('second', os.getpid(), 'tmp-writable', os.access('/tmp', os.W_OK))
""".replace("{framework}", framework).replace("{state}", state), warm)
    assert "module-state False False False False" in second, second
    assert "framework-state torch.float32" in second or "framework-state float32" in second, second
    assert "files []" in second, second
    assert "processes []" in second, f"a process of the first submission (or its queued request) survived: {second}"
    assert re.search(r"sysv [0-9]", first) and "sysv -1" in second, (first, second)
    assert "abstract gone" in second and "tmp-writable True" in second, second
    for out in (first, second):  # forked from a zygote (pid 2 of the sandbox); a cold kernel is pid 2 itself
        assert int(re.search(r"(?:first|second) (\d+)", out).group(1)) > 2, out
    assert zygote.for_this_thread(warm, thread_env(Limits())) is not None


@pytest.mark.xdist_group("trust-sandbox")
def test_a_zygote_that_stops_answering_gives_a_cold_kernel():
    """A kernel that dies before it is ready (here: the zygote's socket replaced, so ``attach`` cannot reach
    it) is the sandbox not starting, never an error out of the grader: the submission runs in a cold kernel."""
    require_bwrap()
    from instructor import zygote
    from instructor.grading import run
    from instructor.grading.types import Limits

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    with tempfile.TemporaryDirectory(prefix="trust-dead-start-") as work, pytest.raises(run.SandboxUnavailable):
        run._execute(nb, Limits(cell_seconds=30, notebook_seconds=60), Path(work), str(Path(work) / "no-zygote.sock"))
    broken = zygote.for_this_thread(WARM, run.thread_env(Limits()))
    assert broken is not None
    os.unlink(broken.sock)
    Path(broken.sock).write_text("")  # the file is there, the zygote is alive, nothing answers on it
    try:
        out = run_in_sandbox("import os; print('kernel', os.getpid())", WARM)
        assert int(re.search(r"kernel (\d+)", out).group(1)) == 2, f"not a cold kernel: {out}"
    finally:
        zygote.close_this_thread()


@pytest.mark.xdist_group("trust-sandbox")
def test_a_zygote_extended_between_jobs_serves_the_next_lab_of_its_framework():
    """Labs of one framework share a thread's zygote: between jobs it imports what the next list adds (the
    next kernel has it loaded, from the same zygote process); a module outside the framework roots in the
    list is not imported; a TensorFlow list gets a zygote of its own."""
    require_bwrap()
    from instructor import zygote
    from instructor.grading.run import thread_env
    from instructor.grading.types import Limits

    probe = "import os, sys; print('kernel', os.getpid(), 'torch.utils.benchmark' in sys.modules, 'wave' in sys.modules)"
    zygote.close_this_thread()
    try:
        first = run_in_sandbox(probe, WARM)
        started = zygote.for_this_thread(WARM, thread_env(Limits()))
        more = WARM + ("torch.utils.benchmark", "wave")
        second = run_in_sandbox(probe, more)
        assert zygote.for_this_thread(more, thread_env(Limits())) is started  # one process, extended
        assert re.search(r"kernel (\d+) False False", first) and re.search(r"kernel (\d+) True False", second), (first, second)
        assert int(re.search(r"kernel (\d+)", second).group(1)) > 2, f"not a forked kernel: {second}"
        assert zygote.framework(WARM_TF) == "tensorflow" != zygote.framework(more) == "torch"
    finally:
        zygote.close_this_thread()


@pytest.mark.xdist_group("trust-sandbox")
def test_warm_kernels_work_in_a_grader_holding_many_descriptors():
    """A long-lived grader (a pytest run, a Dask worker) holds descriptors past select()'s FD_SETSIZE (1024):
    talking to the zygote must not depend on descriptor numbers."""
    require_bwrap()
    import resource

    from instructor import zygote

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1400:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1400, hard), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        zygote.close_this_thread()  # its next zygote's pipes get descriptors above 1100
        for n in range(2):
            out = run_in_sandbox("import os; print('kernel', os.getpid())", WARM)
            assert int(re.search(r"kernel (\d+)", out).group(1)) > 2, f"run {n}: not a forked kernel: {out}"
    finally:
        for fd in held:
            os.close(fd)
        zygote.close_this_thread()


# ----------------------------------------------------------------------------------- wrong answer + tricks
WRONG = {  # a plausible wrong answer to exercise 1 (it keeps some points, so a trick has room to gain)
    "pt01_batchnorm": ("var = x.var(dim=dims, unbiased=False)", "var = x.var(dim=dims, unbiased=True)"),
    "tf02_layernorm_rmsnorm": ("        centred = inputs - mean\n", "        centred = inputs - 0 * mean\n"),
}
FORWARD = re.compile(r"\n(    def (?:forward|call)\(self, [^\n]*\):\n)")
PROBE_MIME = "application/vnd.course-probe+json"


def tricks(lab: Lab, outside_root: Path) -> dict:
    """{name: (code added in a cell after exercise 1, code put at the top of its forward/call)}, one per
    class of attack; each is added to the same wrong answer."""
    module, name = ("torch.testing", "assert_close") if lab.torch else ("numpy.testing", "assert_allclose")
    fake = '{"nonce": "x", "runs": [{"offset": 0, "cells": {}}]}'
    return {
        "early-output": ("from IPython.display import display\n"
                         "display({'text/plain': 'All tests passed!'}, raw=True)\n"
                         f"display({{{PROBE_MIME!r}: {fake!r}}}, raw=True)\n"
                         "get_ipython().display_pub.publish({'text/plain': '10 / 10'})\n", ""),
        "publishing-thread": ("import threading, time\nfrom IPython.display import display\n"
                              "def spam():\n    for _ in range(400):\n"
                              f"        display({{{PROBE_MIME!r}: {fake!r}}}, raw=True)\n        time.sleep(0.05)\n"
                              "threading.Thread(target=spam, daemon=True).start()\n", ""),
        "skip-tags-and-blank-cells": (
            "ip = get_ipython()\n"
            "ip.input_transformers_post.append(lambda lines: ['pass\\n'] if any('__course' in l for l in lines) else lines)\n",
            ""),
        "drop-the-checks": (
            "import ast\nclass Drop(ast.NodeTransformer):\n"
            "    def visit_Call(self, node):\n        self.generic_visit(node)\n"
            "        if isinstance(node.func, ast.Attribute) and node.func.attr in ('check', 'close', 'error'):\n"
            "            return ast.Constant(None)\n        return node\n"
            "get_ipython().ast_transformers.append(Drop())\n", ""),
        "patch-testing-and-class-attributes": (
            f"import {module} as t, unittest.mock as mock, functools\n"
            f"mock.patch.object(t, {name!r}, lambda *a, **k: None).start()\n"
            + ("import torch.testing._comparison as c\nc.TensorLikePair.compare = lambda self: None\n"
               "import torch.nn as nn\nnn.BatchNorm1d.forward = lambda self, x: x\n" if lab.torch else
               "import numpy.testing as nt\nnt.assert_array_equal = lambda *a, **k: None\n")
            + "exec('import builtins; builtins.print = print')\n", ""),
        "patch-from-a-thread-later": (
            f"import threading, {module} as t\n"
            f"threading.Timer(0.2, lambda: setattr(t, {name!r}, lambda *a, **k: None)).start()\n", ""),
        "rebind-test-variables-from-forward": (
            "", "        import sys as _s\n        _f = _s._getframe(1)\n"
                "        for _n in ('expected', 'ref', 'x', 'spread', 'shapes', 'param_names'):\n"
                "            _f.f_globals.pop(_n, None)\n"
                "        _f.f_globals.update({k: v for k, v in _f.f_locals.items() if k == 'mine'})\n"),
        "replace-builtins": ("import builtins\n_isinstance, _all = isinstance, all\n"
                             "builtins.isinstance = lambda o, t: True if type(o).__module__.startswith('torch') or "
                             "'Tensor' in type(o).__name__ else _isinstance(o, t)\n"
                             "builtins.all = lambda it: _all(it) or True\n", ""),
        "trace-hook": ("import sys\nsys.settrace(lambda *a: None)\nsys.setprofile(lambda *a: None)\n", ""),
        "lying-tensor": ((
            "import torch\nclass Liar(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
            "    def numpy(self, *a, **k):\n        return torch.zeros(self.shape).numpy()\n"
            "_forward = MyBatchNorm1d.forward\nMyBatchNorm1d.forward = lambda self, x: _forward(self, x).as_subclass(Liar)\n"
            if lab.torch else
            "import numpy as np\nclass Liar(np.ndarray):\n    def __eq__(self, other):\n        return np.ones(self.shape, bool)\n"
            "_call = MyLayerNorm.call\nMyLayerNorm.call = lambda self, inputs: np.asarray(_call(self, inputs)).view(Liar)\n"),
            ""),
        "read-course-and-classmates": (
            "import glob, pathlib\nfound = []\n"
            f"for pattern in [{str(ROOT / '**/source/**/*.ipynb')!r}, {str(outside_root / '**/*.py')!r}, "
            "'/tmp/**/submitted/**/*.ipynb', '/root/**/*.ipynb']:\n"
            "    found += glob.glob(pattern, recursive=True)[:3]\n"
            "print('found', found)\n"
            f"exec(open({str(outside_root / 'downloads/classmate/answer.py')!r}).read()) if found else None\n", ""),
        "host-sockets": (
            "import socket\n"
            f"for address in [{str(outside_root / 'host.sock')!r}, {ABSTRACT!r}]:\n"
            "    try:\n        s = socket.socket(socket.AF_UNIX); s.settimeout(1); s.connect(address); print('got', s.recv(4))\n"
            "    except OSError as err:\n        print('socket', type(err).__name__)\n", ""),
        "odd-characters": ("note = 'a\u2028b'\nimport builtins; _sorted = sorted\n"
                           "builtins.sorted = lambda *a, **k: _sorted(*a, **k)\n", ""),
        "kill-the-checks": ("", "        import sys as _s, os as _o\n"
                                "        if any('__course' in (_s._getframe(i).f_code.co_name) for i in range(1, 6)"
                                " if _s._getframe(i) is not None):\n            _o._exit(3)\n"),
        "probe-subversion": (  # rewrite the probe to report the expected side: a student's probe has none
            "import ast\nclass Harvest(ast.NodeTransformer):\n"
            "    def visit_Constant(self, node):\n"
            "        if isinstance(node.value, str) and 'self._value(actual), None, {}' in node.value:\n"
            "            node.value = node.value.replace('self._value(actual), None, {}', 'self._value(expected), None, {}')\n"
            "            node.value = node.value.replace('self.reference = reference', 'self.reference = True')\n"
            "        return node\n"
            "get_ipython().ast_transformers.append(Harvest())\n", ""),
    }


def wrong_answer(lab: Lab, cell_after: str = "", in_forward: str = "") -> nbformat.NotebookNode:
    nb = lab.solved()
    cell = lab.cell(nb, lab.solutions[0])
    old, new = WRONG[lab.id]
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    if in_forward:
        cell.source = FORWARD.sub(lambda m: "\n" + m.group(1) + in_forward, cell.source, count=1)
    if cell_after:
        index = nb.cells.index(cell)
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(cell_after))
    return nb


def plant_symlinks(outside_root: Path, gradebook: Path) -> str:
    """Symlinks from every folder the kernel can write to host files the grader could touch."""
    targets = [str(outside_root / "canary.txt"), str(gradebook)]
    return ("import os\nfrom ipykernel import get_connection_file\n"
            "for folder in ['.', '..', os.path.dirname(get_connection_file()), '/tmp']:\n"
            "    for name, target in [('pt01_batchnorm.ipynb', %r), ('gradebook.db', %r), ('kernel.json', %r),"
            " ('autograded', %r), ('feedback', %r)]:\n"
            "        try:\n            os.symlink(target, os.path.join(folder, name))\n"
            "        except OSError:\n            pass\n" % (targets[0], targets[1], targets[0], targets[0], targets[1]))


# ----------------------------------------------------------------------------------- honest corpus
def honest(lab: Lab) -> dict:
    """{name: notebook}: correct answers written in the styles real students use."""
    first = lab.solutions[0]

    def variant(prefix="", suffix="", extra_before=(), extra_after=(), replace=(), in_forward=""):
        nb = lab.solved()
        cell = lab.cell(nb, first)
        source = cell.source
        for old, new in replace:
            assert old in source, old
            source = source.replace(old, new)
        if in_forward:
            source = FORWARD.sub(lambda m: "\n" + m.group(1) + in_forward, source, count=1)
        cell.source = prefix + source + suffix
        index = nb.cells.index(cell)
        nb.cells[index:index + 1] = ([nbformat.v4.new_code_cell(s) for s in extra_before] + [cell] +
                                     [nbformat.v4.new_code_cell(s) for s in extra_after])
        return nb

    determinism = ("import os\nos.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'\n" if lab.torch else
                   "import os\nos.environ['TF_DETERMINISTIC_OPS'] = '1'\n")
    cases = {
        "container-class": variant(extra_after=[
            "class Batches:\n    '''A tiny Dataset-style container.'''\n"
            "    def __init__(self, items):\n        self.items = list(items)\n"
            "    def __len__(self):\n        return len(self.items)\n"
            "    def __getitem__(self, i):\n        return self.items[i]\n"
            "    def __iter__(self):\n        return iter(self.items)\n"
            "    def __repr__(self):\n        return f'Batches({len(self)})'\n"
            "b = Batches(range(5))\nprint(b, len(b), b[2], list(b)[:2])\n"]),
        "sys-printing": variant(prefix="import sys\nsys.stdout.write('exercise 1 answer loaded\\n')\n",
                                extra_after=["import sys\nprint('a note on stderr', file=sys.stderr)\n"]),
        "dataclass-config": variant(extra_before=[
            "from dataclasses import dataclass, field\nfrom typing import Optional, Sequence\n\n"
            "@dataclass(frozen=True)\nclass Config:\n    eps: float = 1e-5\n    sizes: Sequence[int] = field(default_factory=lambda: (2, 4))\n"
            "    note: Optional[str] = None\n\nCONFIG = Config()\nprint(CONFIG)\n"]),
        "functools-itertools": variant(extra_after=[
            "import functools, itertools, operator\n\n@functools.lru_cache(maxsize=None)\ndef fib(n: int) -> int:\n"
            "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
            "print(fib(20), list(itertools.islice(itertools.count(), 3)), functools.reduce(operator.add, [1, 2, 3]))\n"]),
        "lambdas-nested": variant(extra_after=[
            "def make_scaler(k):\n    def scale(v):\n        inner = lambda w: w * k\n        return inner(v)\n    return scale\n"
            "square = lambda v: v ** 2\nprint(make_scaler(3)(2), sorted([3, 1, 2], key=lambda v: -v), square(4))\n"]),
        "extra-cells": variant(extra_before=["# scratch work\nimport math\nprint(math.sqrt(2))\n"],
                               extra_after=["import numpy as np\nprint(np.arange(6).reshape(2, 3).mean(axis=0))\n",
                                            "from collections import namedtuple, OrderedDict\n"
                                            "Pair = namedtuple('Pair', 'a b')\nprint(Pair(1, 2), OrderedDict(x=1))\n"]),
        "plot-in-answer": variant(extra_after=[
            "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (3, 2)\n"
            "plt.plot([0, 1], [1, 0])\nplt.title('my check')\nplt.show()\n"]),
        "type-hints-everywhere": variant(extra_before=[
            "from __future__ import annotations\nfrom typing import Callable, TypeVar\nT = TypeVar('T')\n\n"
            "def apply_twice(f: Callable[[T], T], x: T) -> T:\n    return f(f(x))\n\nprint(apply_twice(lambda v: v + 1, 1))\n"]),
        "seeding-and-progress": variant(extra_after=[
            ("import torch\ntorch.manual_seed(0)\ntorch.backends.cudnn.deterministic = True\n" if lab.torch else
             "import keras\nkeras.utils.set_random_seed(0)\n") +
            "from tqdm.auto import tqdm\ntotal = 0\nfor i in tqdm(range(3)):\n    total += i\nprint(total)\n"]),
        "capture-magic": variant(prefix="%%capture captured\n", extra_after=["print(len(captured.stdout))\n"]),
        "environment-for-determinism": variant(prefix=determinism),
        "float64-default-while-exploring": variant(extra_after=[
            "import torch\ntorch.set_default_dtype(torch.float64)\n" if lab.torch else
            "import keras\nkeras.config.set_floatx('float64')\n"]),
        "docstring-about-the-tests": variant(prefix=(
            '"""My answer. I ran the autograder\'s visible tests and they pass; the hidden tests in the gradebook\n'
            'check more (nbgrader, source/, submitted/ are the folders my instructor uses)."""\n')),
        "logging-at-info": variant(prefix="import logging\nlogging.basicConfig(level=logging.INFO)\n"
                                          "log = logging.getLogger('answer')\nlog.info('defining the answer')\n",
                                   in_forward="        logging.getLogger('answer').info('forward called')\n"),
        "stderr-in-forward": variant(in_forward="        import sys\n        print('debug: forward', file=sys.stderr)\n"),
        "shell-and-magics": variant(extra_after=["!ls -a\n%time total = sum(range(1000))\n%load_ext autoreload\n"
                                                 "%autoreload 2\nimport subprocess\nprint(subprocess.run(['echo', 'hi'], "
                                                 "capture_output=True, text=True).stdout)\n"]),
    }
    if lab.torch:  # a solution split over several cells: a helper in a cell of its own
        cases["split-over-cells"] = variant(
            extra_before=["def batch_stats(x, dims):\n    '''Biased mean and variance over `dims`.'''\n"
                          "    return x.mean(dim=dims), x.var(dim=dims, unbiased=False)\n"],
            replace=[("            mean = x.mean(dim=dims)\n            var = x.var(dim=dims, unbiased=False)\n",
                      "            mean, var = batch_stats(x, dims)\n")])
    else:
        cases["split-over-cells"] = variant(
            extra_before=["from keras import ops\n\ndef centre(inputs):\n    return inputs - ops.mean(inputs, axis=-1, keepdims=True)\n"],
            replace=[("        mean = ops.mean(inputs, axis=-1, keepdims=True)\n        centred = inputs - mean\n",
                      "        centred = centre(inputs)\n")])
    return cases


DELEGATES = {"pt01_batchnorm": ("        x_hat = (x", "        _ = F.batch_norm(x, None, None, training=True)\n        x_hat = (x"),
             "tf02_layernorm_rmsnorm": ("        mean = ops.mean(", "        _ = keras.ops.layer_normalization(inputs)\n"
                                                                    "        mean = ops.mean(")}


def build_trust_class(lab_id: str, tmp_path: Path, outside_root: Path):
    lab = Lab(lab_id)
    root = tmp_path / "class"
    shutil.copytree(ROOT / "source" / lab_id, root / "source" / lab_id)
    pipeline.release(root, [lab_id])
    subs = {"wrong": wrong_answer(lab)}
    for name, (after, forward) in tricks(lab, outside_root).items():
        subs[f"trick-{name}"] = wrong_answer(lab, after, forward)
    skip = wrong_answer(lab)
    for cell in skip.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata["tags"] = ["skip-execution", "raises-exception"]
    subs["trick-skip-execution-tags"] = skip
    subs["trick-symlinks"] = wrong_answer(lab, plant_symlinks(outside_root, root / "gradebook.db"))
    subs.update({f"honest-{name}": nb for name, nb in honest(lab).items()})
    nb = lab.solved()
    old, new = DELEGATES[lab_id]
    lab.cell(nb, lab.solutions[0]).source = lab.cell(nb, lab.solutions[0]).source.replace(old, new, 1)
    subs["delegates"] = nb
    for student, nb in subs.items():
        path = root / "submitted" / student / lab_id / f"{lab_id}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(dump(nb))
    return lab, root, subs


@pytest.fixture(scope="module")
def trust_classes(tmp_path_factory, outside):
    """Each lab's trust class, graded once."""
    cache = {}

    def get(lab_id):
        if lab_id not in cache:
            lab, root, subs = build_trust_class(lab_id, tmp_path_factory.mktemp(lab_id), outside["root"])
            gradebook = root / "gradebook.db"
            record.ensure_assignment(root, lab_id)
            mode = stat.S_IMODE(gradebook.stat().st_mode)
            seed_cache(root, lab_id)
            run = pipeline.grade_class(root, [lab_id], progress=False, limits=LIMITS, workers=2)
            keep_cache(root, lab_id)
            rows, outcomes = run.grades, run.outcomes
            cache[lab_id] = (lab, root, {r.student: r.score for r in rows}, {o.student: o for o in outcomes},
                             pipeline.summary(rows, outcomes), mode)
        return cache[lab_id]
    return get


TRUST_LABS = [pytest.param("pt01_batchnorm", marks=pytest.mark.xdist_group("trust-pt01")),
              pytest.param("tf02_layernorm_rmsnorm", marks=pytest.mark.xdist_group("trust-tf02"))]


@pytest.mark.parametrize("lab_id", TRUST_LABS)
def test_no_trick_scores_more_than_the_wrong_answer_alone(lab_id, trust_classes, outside):
    require_bwrap()
    lab, root, scores, outcomes, report, mode = trust_classes(lab_id)
    baseline = scores["wrong"]
    assert 0 < baseline < lab.full, f"the wrong answer must keep some points and lose some: {baseline}/{lab.full} {outcomes['wrong']}"
    names = [s for s in scores if s.startswith("trick-")]
    assert len(names) >= 15
    gained = [f"{s}: {scores[s]} > {baseline} ({outcomes[s]})" for s in names if scores[s] > baseline]
    assert not gained, "\n".join(gained)
    # code that reaches into the grader's probe is also named for the instructor's review
    assert "review" in outcomes["trick-probe-subversion"].codes, outcomes["trick-probe-subversion"]
    for student in scores:  # nothing is lost
        assert (root / "feedback" / student / lab_id / f"{lab_id}.html").exists(), student
    # planted symlinks changed nothing outside the sandbox, and the gradebook kept its mode
    canary = outside["root"] / "canary.txt"
    assert canary.read_text() == "CANARY" and stat.S_IMODE(canary.stat().st_mode) == 0o644
    assert stat.S_IMODE((root / "gradebook.db").stat().st_mode) == mode
    # hidden-test text never reaches feedback, whatever the student printed
    hidden = hidden_lines(lab)
    for student in scores:
        text = (root / "feedback" / student / lab_id / f"{lab_id}.html").read_text()
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{student}'s feedback quotes hidden tests: {leaked[:2]}"


def hidden_lines(lab: Lab) -> list[str]:
    import html

    from instructor.grading.probes import HIDDEN_BEGIN, HIDDEN_END

    lines, inside = [], False
    for cell in lab.source.cells:
        for line in cell.source.split("\n"):
            if HIDDEN_BEGIN in line:
                inside = True
            elif HIDDEN_END in line:
                inside = False
            elif inside and len(line.strip()) > 30:
                lines.append(html.escape(line.strip(), quote=False))
    assert lines
    return lines


@pytest.mark.parametrize("lab_id", TRUST_LABS)
def test_honest_code_is_never_flagged_and_delegation_is_noted(lab_id, trust_classes):
    require_bwrap()
    lab, root, scores, outcomes, report, _ = trust_classes(lab_id)
    names = [s for s in scores if s.startswith("honest-")]
    assert len(names) >= 15
    problems = [f"{s}: {scores[s]}/{lab.full}, {outcomes[s]}" for s in names
                if outcomes[s].status is not Status.GRADED or scores[s] != lab.full or outcomes[s].notes
                or outcomes[s].diagnoses]
    assert not problems, "\n".join(problems)  # (full marks: no mistake is ever diagnosed, either)
    o = outcomes["delegates"]
    assert o.status is Status.GRADED, o
    assert any(n.code == "from-scratch" and lab.solutions[0] in n for n in o.notes), o.notes


def test_every_lab_declares_its_from_scratch_exercises():
    for lab in labs():
        assert lab in MUST_NOT_CALL, f"instructor/from_scratch.py: declare {lab} (an empty dict if nothing)"
        source = nbformat.read(ROOT / "source" / lab / f"{lab}.ipynb", as_version=4)
        ids = set(pipeline.solution_cell_ids(source))
        assert set(MUST_NOT_CALL[lab]) <= ids, f"{lab}: unknown solution cells {set(MUST_NOT_CALL[lab]) - ids}"
