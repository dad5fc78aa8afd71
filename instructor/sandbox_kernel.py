"""The kernel that runs student code during grading: ``python -m instructor.sandbox_kernel -f CONN``.

``instructor.grading.run`` writes a kernelspec that starts this module with ``COURSE_SANDBOX_SPEC`` (the
path of a JSON file, read and deleted at once) in its environment. The spec holds:

* ``memory_mb`` / ``file_mb``: address-space and file-size limits (RLIMIT_AS, RLIMIT_FSIZE), no core;
* ``hide``: paths the student's code must not see (the gradebook with hidden tests, ``source/``, other
  students' work, the repository's history and tests, the grader's build folder);
* ``marker_dir``: where the guard writes its signed records and the digest of the running cell;
* ``key`` and ``cells``: the integrity guard's HMAC key and the locked cells it recognizes
  (:mod:`instructor.guard`).

Three levels of isolation, the strongest available is used and written to ``marker_dir/isolation``:

1. **bubblewrap** (``bwrap``, Debian package ``bubblewrap``): the kernel runs in new user, PID,
   network, IPC and UTS namespaces with every capability dropped (``--cap-drop ALL``), so it cannot
   unmount or remount anything, reach the network, see or signal any process outside, or trace the
   grader; ``/`` is read-only, the temporary folder is a fresh empty tmpfs (other tasks' folders and
   the gradebook copy are not there), each hidden path is an empty tmpfs (folders) or ``/dev/null``
   (files); only the submission's own working folder, the kernel's connection folder and the marker
   folder are writable. ``--die-with-parent``: the kernel never outlives the grader. The grader talks
   to it over Unix sockets (``KernelManager.transport=ipc``), which cross the network namespace.
2. **unshare** (weaker, reported): a private mount namespace with the hidden paths covered; the kernel
   is root in its user namespace, so it could undo the mounts, and the network is reachable.
3. **none** (reported loudly): no hiding at all.

The spec travels from this (outer) process to the kernel process (inner) on a pipe that the inner one
reads and closes before any cell runs, so the key is in no environment block, file or argument the
student's code can read.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

INSIDE = "--inside"


def apply_limits(memory_mb: int, file_mb: int) -> None:
    mib = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mib, memory_mb * mib))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * mib, file_mb * mib))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def bwrap_works() -> str | None:
    """The bwrap executable when it can build the sandbox here (probe: a full unshare), else None."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
                            "--cap-drop", "ALL", "--die-with-parent", "true"], capture_output=True)
    return bwrap if probe.returncode == 0 else None


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def bwrap_command(bwrap: str, spec: dict, cwd: str, connection_file: str) -> list[str]:
    tmp = tempfile.gettempdir()
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", tmp]
    # The course and its environment stay visible (read-only) even when they live under the
    # temporary folder (a CI clone in /tmp): bound back before the hidden paths are covered.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    keep = []
    for path in (root, os.path.realpath(root), os.path.realpath(sys.prefix)):
        if _under(path, tmp) and not any(_under(path, k) for k in keep):
            keep.append(path)
    for path in keep:
        args += ["--ro-bind", path, path]
    for path in spec.get("hide", []):
        if not os.path.exists(path) or _under(path, tmp) and not any(_under(path, k) for k in keep):
            continue  # absent, or under the temporary folder: hidden already
        args += ["--tmpfs", path] if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
    for path in dict.fromkeys([cwd, os.path.dirname(os.path.abspath(connection_file)), spec["marker_dir"]]):
        args += ["--bind", path, path]
    home = os.path.join(tmp, "home")
    args += ["--dir", home, "--setenv", "HOME", home, "--setenv", "MPLCONFIGDIR", os.path.join(home, ".mpl"),
             "--unsetenv", "JPY_PARENT_PID", "--unshare-all", "--cap-drop", "ALL", "--die-with-parent",
             "--new-session", "--chdir", cwd]
    return args


def hide_paths(hide: list[str], keep: str) -> None:
    """The weaker mode: inside a private mount namespace, cover ``hide``; mount ``keep`` back."""
    def mount(*args):
        subprocess.run(["mount", *args], check=True, capture_output=True)

    keep_covered = any(keep == h or keep.startswith(h.rstrip(os.sep) + os.sep)
                       for h in hide if os.path.isdir(h))
    staging = tempfile.mkdtemp(prefix="sandbox-keep-")
    if keep_covered:
        mount("--bind", keep, staging)
    for path in hide:
        if os.path.isdir(path) and not os.path.islink(path):
            mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", path)
        elif os.path.isfile(path):
            mount("--bind", "/dev/null", path)
    if keep_covered:
        os.makedirs(keep, exist_ok=True)
        mount("--bind", staging, keep)


def outer(argv: list[str]) -> None:
    """Started by the kernelspec: read the spec, set limits, start the inner kernel in the sandbox."""
    path = os.environ.pop("COURSE_SANDBOX_SPEC", None)
    spec = {}
    if path:
        with open(path) as fh:
            spec = json.load(fh)
        os.unlink(path)
    connection_file = argv[argv.index("-f") + 1]
    cwd = os.getcwd()
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, True)
    inner = [sys.executable, "-m", "instructor.sandbox_kernel", INSIDE, str(read_end), *argv]
    bwrap = bwrap_works() if spec.get("hide") is not None and spec.get("isolate", True) else None
    if bwrap:
        spec["isolation"] = "bubblewrap"
        command = [*bwrap_command(bwrap, spec, cwd, connection_file), *inner]
    elif spec.get("isolate", True) and shutil.which("unshare") and subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True).returncode == 0:
        spec["isolation"] = ("weaker: unshare (bubblewrap unavailable): hidden paths are covered, but the "
                             "kernel could undo the mounts and reach the network")
        spec["unshare_hide"] = True
        command = ["unshare", "--user", "--map-root-user", "--mount", "--", *inner]
    else:
        spec["isolation"] = ("none (" + ("isolation off" if not spec.get("isolate", True) else
                                         "neither bubblewrap nor unshare can run here") +
                             "): student code could read the course folder")
        command = inner
    memory_mb, file_mb = int(spec.get("memory_mb", 12288)), int(spec.get("file_mb", 1024))
    data = json.dumps(spec).encode()
    spec.clear()
    if len(data) > 60000:  # a pipe holds 64 KiB; the spec carries digests, not sources
        raise RuntimeError(f"sandbox spec too large for the pipe ({len(data)} bytes)")
    apply_limits(memory_mb, file_mb)
    os.write(write_end, data)
    os.close(write_end)
    del data
    os.execv(command[0], command)


def _prepare_inside(fd: int) -> None:
    """Read the spec, hide paths (weaker mode), install the guard; keep nothing secret in a frame."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    spec = json.loads(b"".join(chunks))
    chunks.clear()
    keep = os.getcwd()
    if spec.get("unshare_hide"):
        hide_paths(spec.get("hide", []), keep)
        os.chdir(keep)
    marker_dir = spec.get("marker_dir")
    if marker_dir:
        with open(os.path.join(marker_dir, "isolation"), "w") as fh:
            fh.write(spec.get("isolation", "none") + "\n")
    if spec.get("key") and marker_dir:
        from instructor import guard

        guard.install(spec["cells"], bytes.fromhex(spec.pop("key")), os.path.join(marker_dir, "records"),
                      os.path.join(marker_dir, "cell"))
    spec.clear()
    for name in [m for m in sys.modules if m == "instructor" or m.startswith("instructor.")]:
        del sys.modules[name]  # a student `import instructor...` now passes the guard's import check


def main(argv: list[str]) -> None:
    if argv and argv[0] == INSIDE:
        _prepare_inside(int(argv[1]))
        sys.argv = ["ipykernel_launcher", *argv[2:], "--HistoryManager.hist_file=:memory:"]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    else:
        outer(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
