"""The kernel that runs student code during grading: ``python -m instructor.sandbox_kernel -f CONN``.

``instructor.grading.run`` writes a kernelspec that starts this module with ``COURSE_SANDBOX_SPEC`` (the
path of a JSON file, read and deleted at once) in its environment. The spec (:class:`Spec`) holds the
memory and file-size limits, the folders the kernel may write (its scratch folder and the folder of
its connection file) and whether to isolate at all.

Isolation is an **allow-list** built with bubblewrap (``bwrap``, Debian package ``bubblewrap``): the
kernel starts in an empty root and sees only what is bound into it —

* read-only: the system's programs and libraries (``/usr``, ``/lib*``, ``/bin``, ``/sbin``), a short list
  of ``/etc`` files (dynamic linker cache, certificates, fonts, name service), the Python installation
  and the course's environment (``sys.prefix``, ``sys.base_prefix``), and the course's package
  ``course_utils``, never the rest of the checkout (this launcher runs outside, then execs the kernel);
* writable: a fresh tmpfs ``/tmp`` and home, the submission's own scratch folder (its working folder,
  empty at start) and the folder holding the kernel's connection file and Unix sockets;
* ``/proc`` of its own PID namespace, a minimal ``/dev`` (GPU device nodes are added when present).

Everything else — other checkouts of the course, ``source/``, the gradebook, classmates' submissions,
the LMS download folder, home directories, ``/run`` and its host sockets — simply does not exist in
there. The kernel runs in new user, PID, network, IPC, UTS and cgroup namespaces with every capability
dropped (``--cap-drop ALL``), so no mount can be undone, no network reached, no outside process seen
or signalled; ``--die-with-parent``: it never outlives the grader. Programs the student starts
(``!ls``, ``subprocess``) run in the same sandbox. The grader talks to the kernel over Unix sockets
(``KernelManager.transport=ipc``), which cross the network namespace.

Without bubblewrap the kernel runs unisolated only when the spec says ``isolate: false`` (an
instructor's explicit choice); otherwise it refuses to start, and the grader stops the run once with
advice (:func:`bwrap_works`).
"""
from __future__ import annotations

import glob
import json
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "fonts", "passwd",
       "group", "nsswitch.conf", "localtime", "timezone", "hosts", "mime.types", "matplotlibrc", "os-release")
REFUSED_EXIT = 87
# What of the grader's environment a kernel gets (everything else, an instructor's tokens and paths included,
# stays outside): locale, the search path, the thread counts and mode the grader sets, GPU selection.
KERNEL_ENV = ("PATH", "LD_LIBRARY_PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH", "PYTHONHASHSEED",
              "NBGRADER_EXECUTION", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MPLBACKEND")
KERNEL_ENV_PREFIXES = ("LC_", "NVIDIA_", "CUDA_", "TF_")  # TF_NUM_*_THREADS, TF_CPP_MIN_LOG_LEVEL, CUDA_VISIBLE_DEVICES


def kernel_env(environ) -> dict:
    """The allow-listed part of ``environ`` (:data:`KERNEL_ENV`): what a sandbox kernel starts with."""
    return {k: v for k, v in environ.items() if k in KERNEL_ENV or k.startswith(KERNEL_ENV_PREFIXES)}


@dataclass
class Spec:
    """What the grader hands the kernel launcher (one JSON file, read and deleted before anything runs)."""
    memory_mb: int = 12288
    file_mb: int = 1024
    writable: list = field(default_factory=list)   # the scratch folder (cwd) and the connection folder
    isolate: bool = True

    def write(self, path: str) -> None:
        with open(path, "w") as fh:
            json.dump(asdict(self), fh)
        os.chmod(path, 0o600)

    @classmethod
    def read(cls, path: str) -> "Spec":
        with open(path) as fh:
            spec = cls(**json.load(fh))
        os.unlink(path)
        return spec


def apply_limits(memory_mb: int, file_mb: int) -> None:
    mib = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mib, memory_mb * mib))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * mib, file_mb * mib))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def readable_paths() -> list[str]:
    """What the kernel may read: the system, the Python installation and environment, the course packages."""
    paths = [d for d in SYSTEM_DIRS if os.path.exists(d)]
    paths += [os.path.join("/etc", name) for name in ETC if os.path.lexists(os.path.join("/etc", name))]
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix):
        paths += [prefix, os.path.realpath(prefix)]
    for package in ("course_utils", "course_utils.egg-info"):
        path = os.path.join(ROOT, package)
        if os.path.exists(path):
            paths += [path]
    out: list[str] = []
    for path in dict.fromkeys(os.path.abspath(p) for p in paths):
        if not any(path == o or path.startswith(o.rstrip("/") + "/") for o in out if o in SYSTEM_DIRS):
            out.append(path)
    return out


def bwrap_command(bwrap: str, spec: Spec) -> list[str]:
    args = [bwrap, "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in readable_paths():
        if os.path.islink(path) and os.path.dirname(path) == "/":  # /lib -> usr/lib on merged-/usr systems
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--ro-bind", path, path]
    for device in sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*")):
        args += ["--dev-bind", device, device]
    for path in dict.fromkeys(spec.writable):
        args += ["--bind", path, path]
    home = "/tmp/home"
    args += ["--dir", home, "--setenv", "HOME", home, "--setenv", "MPLCONFIGDIR", f"{home}/.mpl",
             "--setenv", "TMPDIR", "/tmp", "--unsetenv", "JPY_PARENT_PID", "--unshare-all", "--cap-drop", "ALL",
             "--die-with-parent", "--new-session"]
    if spec.writable:
        args += ["--chdir", spec.writable[0]]
    return args


def bwrap_works() -> str | None:
    """The bwrap executable when it can build the sandbox here (probe: the real command on ``true``)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    probe = subprocess.run([*bwrap_command(bwrap, Spec()), "true"], capture_output=True)
    return bwrap if probe.returncode == 0 else None


def outer(argv: list[str]) -> None:
    """Started by the kernelspec: read the spec, set limits, exec the kernel inside the sandbox."""
    path = os.environ.pop("COURSE_SANDBOX_SPEC", None)
    spec = Spec.read(path) if path else Spec(isolate=False)
    inner = [sys.executable, "-m", "ipykernel_launcher", *argv, "--HistoryManager.hist_file=:memory:"]
    if spec.isolate:
        bwrap = bwrap_works()
        if bwrap is None:
            sys.stderr.write("course sandbox: bubblewrap cannot run here; refusing to run student code\n")
            sys.exit(REFUSED_EXIT)
        command = [*bwrap_command(bwrap, spec), *inner]
    else:
        command = inner
    apply_limits(spec.memory_mb, spec.file_mb)
    os.execve(command[0], command, kernel_env(os.environ) if spec.isolate else dict(os.environ))


if __name__ == "__main__":
    outer(sys.argv[1:])
