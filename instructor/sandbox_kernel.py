"""The kernel that runs student code during grading: ``python -m instructor.sandbox_kernel -f CONN``.

``instructor.pipeline.autograde_student`` writes a kernelspec that starts this module and sets
``COURSE_SANDBOX`` (JSON) in its environment:

* ``memory_mb``: address-space limit (RLIMIT_AS): a memory blow-up raises ``MemoryError`` in the
  student's cell instead of taking the machine down; ``file_mb`` caps any file the kernel writes;
  core dumps are off.
* ``hide``: paths the student's code must not see (the gradebook with hidden tests, ``source/``,
  other students' work, the repository's git history). When the Linux ``unshare`` tool can make a
  private mount namespace (root, or unprivileged user namespaces), each is covered by an empty
  tmpfs (directories) or ``/dev/null`` (files) for this kernel only; ``keep`` (the student's own
  working folder) is mounted back if it lies under a hidden path. Where ``unshare`` is unavailable
  the kernel starts without hiding and records that in ``marker_dir/isolation``.
* ``marker_dir``: before each cell runs, the kernel writes the SHA-256 of that cell's source to
  ``marker_dir/cell``, so when a cell kills the kernel (``os._exit``, a segfault) the grader knows
  which cell to neutralize.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

IN_NAMESPACE = "COURSE_SANDBOX_IN_NAMESPACE"


def apply_limits(memory_mb: int, file_mb: int) -> None:
    mib = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mib, memory_mb * mib))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * mib, file_mb * mib))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def hide_paths(hide: list[str], keep: str) -> None:
    """Inside a private mount namespace: cover ``hide``; mount ``keep`` back if it was covered."""
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


def main(argv: list[str]) -> None:
    spec = json.loads(os.environ.get("COURSE_SANDBOX", "{}"))
    marker_dir = spec.get("marker_dir")
    keep = os.getcwd()
    if spec.get("hide") and not os.environ.get(IN_NAMESPACE):
        unshare = shutil.which("unshare")
        probe = unshare and subprocess.run([unshare, "--user", "--map-root-user", "--mount", "true"],
                                           capture_output=True).returncode == 0
        if probe:
            os.environ[IN_NAMESPACE] = "1"
            os.execv(unshare, [unshare, "--user", "--map-root-user", "--mount", "--",
                               sys.executable, "-m", "instructor.sandbox_kernel", *argv])
        isolation = "none (unshare unavailable): student code could read the course folder"
    elif os.environ.get(IN_NAMESPACE):
        hide_paths(spec.get("hide", []), keep)
        os.chdir(keep)
        isolation = "mount namespace"
    else:
        isolation = "none requested"
    if marker_dir:
        with open(os.path.join(marker_dir, "isolation"), "w") as fh:
            fh.write(isolation + "\n")
    apply_limits(int(spec.get("memory_mb", 12288)), int(spec.get("file_mb", 1024)))
    for key in ("COURSE_SANDBOX", IN_NAMESPACE):
        os.environ.pop(key, None)
    exec_lines = []
    if marker_dir:
        # Before each cell runs, record a digest of its source (nbclient sends no cell id).
        exec_lines.append(
            "get_ipython().events.register('pre_run_cell', (lambda p, h: lambda info: "
            "open(p, 'w').write(h(info.raw_cell.encode()).hexdigest()))"
            f"({os.path.join(marker_dir, 'cell')!r}, __import__('hashlib').sha256))")
    args = [sys.executable, "-m", "ipykernel_launcher", *argv, "--HistoryManager.hist_file=:memory:"]
    args += [f"--IPKernelApp.exec_lines={json.dumps(exec_lines)}"] if exec_lines else []
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main(sys.argv[1:])
