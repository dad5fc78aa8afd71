"""Warm grading kernels: a process in the grading sandbox that has imported a lab's framework (PyTorch,
or TensorFlow and Keras) once, and forks one fresh kernel per submission from that state.

Starting a sandbox kernel and importing the framework is most of what grading one submission costs
(pt01: 4.5 s of 5.6; tf02: about 6 s of 8). A *zygote* pays it once per grading worker:

* ``serve`` runs inside bubblewrap's allow-list sandbox (:mod:`instructor.sandbox_kernel`, the same binds,
  writable: only its own ``jobs`` folder), imports the modules the lab's setup cell imports from
  :data:`WARM_ROOTS` and then those of the same roots that the solution's reference run had loaded by its
  end (:func:`ahead`: what a framework imports at first use) — never student code, never the course's
  checkout — freezes them out of the garbage collector, and waits on a Unix socket; labs of one framework
  share a thread's zygote: between jobs the grader has it import what the next lab's list adds
  (:meth:`Zygote.extend`), so the reference run, the catalogue and the submissions of lab after lab
  fork from one process;
* per submission, the kernelspec starts ``attach`` (outside the sandbox, in the kernel's place): it asks
  the zygote for a kernel with this connection file, working folder and limits, and lives as long as it;
* the zygote forks; the child sets the limits, the environment and the working folder, and becomes an
  IPython kernel. The zygote waits for the child or for ``attach`` to go (the grader shut the kernel
  down), then **kills every other process in the sandbox** (``kill(-1, SIGKILL)`` in its own PID
  namespace) and empties ``/tmp``, the home folder and ``/dev/shm`` before it accepts the next request.

So every submission starts from the zygote's state, which no student code has touched, and nothing one
submission left (processes, files, shared memory) is there for the next: the next job's folder is new.
Each kernel also gets IPC and network namespaces of its own (SysV and POSIX IPC, abstract sockets).
The zygote is not dumpable (``PR_SET_DUMPABLE`` 0): kernels cannot ptrace it or read its memory. A
student who kills it kills only their own kernel (the grader starts a new zygote for the next one).
TensorFlow is fork-safe after ``import`` and before its first op: the runtime, its thread pools and
the eager context are made at the first op, in the child, from the child's ``TF_NUM_*_THREADS``
(measured: 60 forks of an imported TensorFlow each trained a Keras model and ran a ``tf.function``).
"""
from __future__ import annotations

import ast
import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# Fork-safe before their first operation: importing them starts no thread that holds a lock (numpy's
# OpenBLAS pool waits idle; TensorFlow creates its runtime and thread pools at the first op, in the child,
# from the child's TF_NUM_*_THREADS; matplotlib reads its font files once, here, instead of into every
# kernel's empty MPLCONFIGDIR: 0.6 s a submission). tests/test_trust.py forks kernels of both kinds.
WARM_ROOTS = ("torch", "torchvision", "numpy", "tensorflow", "keras", "matplotlib")
COLD_ROOTS = ("jax",)      # a lab that imports one of these gets no zygote (no lab does; never measured)
READY = "zygote ready"
SWEPT = "swept"
IMPORTED = "imported"


LOADED_MIME = "application/vnd.course-loaded-modules+json"
# the last cell of the solution's reference run (instructor.grading.run.reference): which modules of
# WARM_ROOTS the graded part and the checks ended up loading, in the order they were loaded
LOADED_REPORT = ("import sys as _course_sys\nfrom IPython.display import display as _course_display\n"
                 f"_course_display({{{LOADED_MIME!r}: [m for m in list(_course_sys.modules) "
                 f"if m.split('.')[0] in {WARM_ROOTS!r}]}}, raw=True)\n")


def ahead(setup: tuple[str, ...], loaded) -> tuple[str, ...]:
    """What a zygote imports for a lab: its setup cell's framework modules, then the framework modules
    the solution's graded run loaded later (``loaded``, in load order: the first use of
    ``torch.testing.assert_close`` imports ``torch.distributed.tensor`` and sympy, the first
    ``__torch_function__`` ``torch._dynamo``: about 1.3 s per submission in a kernel of its own). None
    for a lab whose setup cell gets no zygote."""
    if not setup:
        return ()
    extra = [m for m in loaded or () if isinstance(m, str) and m.split(".")[0] in WARM_ROOTS and m not in setup]
    return tuple(setup) + tuple(dict.fromkeys(extra))


def warm_modules(setup_source: str) -> tuple[str, ...]:
    """The modules of a lab's setup cell that a zygote imports ahead of the kernel (empty: no zygote)."""
    try:
        tree = ast.parse(setup_source)
    except SyntaxError:
        return ()
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level]
    if any(name.split(".")[0] in COLD_ROOTS for name in names):
        return ()
    return tuple(sorted({name for name in names if name.split(".")[0] in WARM_ROOTS}))


# --------------------------------------------------------------------------- inside the sandbox
def _not_dumpable() -> None:
    import ctypes

    PR_SET_DUMPABLE = 4
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _remove(path: str) -> None:
    """Remove a file or a folder tree, opening up folders a kernel made unreadable or unwritable."""
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, _ in os.walk(path):
            for d in dirs:
                try:
                    os.chmod(os.path.join(root, d), 0o700)
                except OSError:
                    pass
        try:
            os.chmod(path, 0o700)
        except OSError:
            pass
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _empty(folder: str, keep: tuple[str, ...]) -> None:
    """Everything in ``folder`` removed but ``keep`` (and the folders on the way to it)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        if path in keep:
            continue
        if any(k.startswith(path + "/") for k in keep):
            _empty(path, keep)
        else:
            _remove(path)


def _sweep(jobs: str, sock_path: str) -> None:
    """Kill every process of this PID namespace but this one (and its init), reap, and empty every place a
    kernel can write: /tmp (the home folder is in it), /dev/shm and the jobs folder (but its socket)."""
    for _ in range(50):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
        if not others:
            break
        time.sleep(0.02)
    _empty("/tmp", (jobs,))
    _empty("/dev/shm", ())
    _empty(jobs, (sock_path,))
    for place, mode in (("/tmp", 0o1777), ("/dev/shm", 0o1777), (jobs, 0o700)):  # a kernel may have locked them
        try:
            os.chmod(place, mode)
        except OSError:
            pass
    os.makedirs(os.environ.get("HOME", "/tmp/home"), exist_ok=True)


def _quiet_fds() -> None:
    """stdin, stdout and stderr on /dev/null: nothing a kernel writes at file-descriptor level may fill
    a pipe that nobody reads."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _own_namespaces() -> bool:
    """Give this process IPC and network namespaces of its own (in a user namespace it owns, its uid
    mapped to itself): SysV shared memory, POSIX message queues and abstract sockets then die with the
    kernel, and no later kernel of this zygote can reach them. False when the kernel does not allow it."""
    import ctypes

    CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWNET = 0x10000000, 0x08000000, 0x40000000
    uid, gid = os.getuid(), os.getgid()
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER | CLONE_NEWIPC | CLONE_NEWNET) != 0:
        return False
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)
        except OSError:
            pass  # unmapped ids read as the overflow id; the kernel still runs
    return _drop_capabilities()


def _drop_capabilities() -> bool:
    """Every capability the new user namespace gave this process gone (bounding set, effective, permitted,
    inheritable, ambient), and no way to gain one (no_new_privs): as bubblewrap's --cap-drop ALL."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last capability: harmless
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)   # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()                  # two {effective, permitted, inheritable}, all zero
    if libc.capset(header, data) != 0 or libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    with open("/proc/self/status") as fh:
        return all(line.split()[1].strip("0") == "" for line in fh
                   if line.startswith(("CapEff:", "CapPrm:", "CapInh:", "CapBnd:", "CapAmb:")))


def _child(request: dict) -> None:
    """In the forked child: become one submission's kernel (the limits as instructor.sandbox_kernel sets
    them: this code runs inside the sandbox, where the course's checkout is not)."""
    import resource

    os.setsid()
    if not _own_namespaces():
        os._exit(3)  # never a kernel that shares IPC or network state with the next one
    import ctypes

    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE 1: a kernel as a cold one (the zygote stays not)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    env = dict(request["env"])
    for name in ("HOME", "MPLCONFIGDIR", "TMPDIR"):  # the sandbox's, as bubblewrap sets them
        env[name] = os.environ[name]
    env.pop("JPY_PARENT_PID", None)
    env.pop("COURSE_SANDBOX_SPEC", None)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(request["cwd"])
    if "numpy" in sys.modules:  # a fresh process draws numpy's global seed from the OS; so does each child
        sys.modules["numpy"].random.seed()
    for limit, mb in ((resource.RLIMIT_AS, request["memory_mb"]), (resource.RLIMIT_FSIZE, request["file_mb"])):
        resource.setrlimit(limit, (mb * 1024 * 1024, mb * 1024 * 1024))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"], "--HistoryManager.hist_file=:memory:"]
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def _read_line(conn: socket.socket, limit: int = 1 << 20) -> bytes:
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _from_outside(conn: socket.socket) -> bool:
    """Whether the peer is outside this PID namespace (the grader's ``attach``): a process outside has no
    PID here, so SO_PEERCRED reports 0 for it; every process inside the sandbox has one."""
    import struct

    pid, _, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return pid == 0


def _prepare(modules: list[str]) -> None:
    """Refuse to run outside bubblewrap's PID namespace, become not dumpable, import ``modules`` and the
    kernel's code, and check that a child can get IPC and network namespaces of its own (else exit 2)."""
    import gc

    with open("/proc/1/comm") as fh:
        if fh.read().strip() != "bwrap":
            sys.stderr.write("zygote: not inside the grading sandbox; refusing to start\n")
            sys.exit(2)
    _not_dumpable()
    # matplotlib reads its backend at import: the one ipykernel gives a kernel whose environment names none
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    _import(modules)
    import ipykernel.kernelapp  # noqa: F401  (the kernel's own code, imported once)

    gc.collect()
    gc.freeze()

    probe = os.fork()
    if probe == 0:
        os._exit(0 if _own_namespaces() else 1)
    if os.waitstatus_to_exitcode(os.waitpid(probe, 0)[1]) != 0:
        sys.stderr.write("zygote: no IPC/network namespace per kernel here; the grader uses cold kernels\n")
        sys.exit(2)


def _import(modules) -> None:
    """Import ``modules`` of :data:`WARM_ROOTS` (framework code only; one that does not import is the
    kernel's affair), then freeze everything out of the garbage collector: no copy-on-write of it all."""
    import gc
    import importlib

    for name in modules:
        if not isinstance(name, str) or name.split(".")[0] not in WARM_ROOTS:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (an extension's submodule, a module gone in this version)
            pass
    gc.collect()
    gc.freeze()


def _request(server: socket.socket) -> tuple[socket.socket, dict]:
    """The next request from the grader's ``attach`` (requests from inside the sandbox are dropped)."""
    while True:
        conn, _ = server.accept()
        if not _from_outside(conn):  # a kernel of an earlier job that queued a request before it was killed
            conn.close()
            continue
        try:
            return conn, json.loads(_read_line(conn))
        except ValueError:
            conn.close()


def _one_job(server: socket.socket, conn: socket.socket, request: dict, protocol) -> int:
    """Fork the kernel for ``request`` and wait for it to end or for ``attach`` to go; gives its exit code
    (-9: ``attach`` went first)."""
    pid = os.fork()
    if pid == 0:
        server.close()
        conn.close()
        protocol.close()  # only the zygote reports sweeps
        try:
            _child(request)
        finally:
            os._exit(0)
    pidfd = os.pidfd_open(pid)
    conn.sendall(f"{pid}\n".encode())
    poller = select.poll()  # poll, not select: no limit on descriptor numbers
    poller.register(conn, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    readable = {fd for fd, _ in poller.poll()}
    code = -9
    if pidfd in readable:
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    os.close(pidfd)
    return code


def serve(sock_path: str, modules: list[str]) -> None:
    """The zygote's loop (inside bubblewrap's PID namespace only: it refuses to run anywhere else)."""
    _prepare(modules)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    socket_inode = os.stat(sock_path).st_ino
    print(READY, flush=True)
    protocol = os.fdopen(os.dup(1), "w")  # READY, then one SWEPT line per job, for the grader
    _quiet_fds()
    jobs = os.path.dirname(sock_path)
    while True:
        conn, request = _request(server)
        if "import" in request:  # the grader's, between jobs: more framework modules, before the next fork
            _import(request["import"] if isinstance(request["import"], list) else [])
            conn.sendall(f"{IMPORTED}\n".encode())
            conn.close()
            continue
        code = _one_job(server, conn, request, protocol)
        _sweep(jobs, sock_path)  # the child, anything it started, and everything it left
        try:  # a kernel may have replaced the socket file: then this zygote can no longer be reached
            intact = os.stat(sock_path).st_ino == socket_inode
            os.chmod(sock_path, 0o600)
        except OSError:
            intact = False
        if not intact:
            sys.exit(0)  # the grader starts a new zygote
        try:
            conn.sendall(f"{code}\n".encode())
        except OSError:
            pass
        conn.close()
        protocol.write(SWEPT + "\n")
        protocol.flush()


# --------------------------------------------------------------------------- outside: the kernel's stand-in
def attach(sock_path: str, connection_file: str) -> int:
    """Started by jupyter_client as the kernel: ask the zygote for one, and live exactly as long as it."""
    from .sandbox_kernel import Spec, kernel_env

    path = os.environ.pop("COURSE_SANDBOX_SPEC", None)
    spec = Spec.read(path) if path else Spec()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(sock_path)
    conn.sendall(json.dumps({"connection_file": connection_file, "cwd": spec.writable[0],
                             "env": kernel_env(os.environ),
                             "memory_mb": spec.memory_mb, "file_mb": spec.file_mb}).encode() + b"\n")
    for handled in (signal.SIGTERM, signal.SIGINT):  # the grader ends the kernel: so does the zygote
        signal.signal(handled, lambda *_: os._exit(1))
    lines = b""
    while lines.count(b"\n") < 2:
        chunk = conn.recv(64)
        if not chunk:
            return 1
        lines += chunk
    code = int(lines.split(b"\n")[1] or -9)
    return code if code >= 0 else 128 - code


# --------------------------------------------------------------------------- the grader's side
class Zygote:
    """One zygote process (inside bubblewrap) and its jobs folder; :func:`for_this_thread` keeps one per
    grading thread and kind (modules, threads)."""

    def __init__(self, modules: tuple[str, ...], env: dict):
        from .sandbox_kernel import Spec, bwrap_command, bwrap_works, kernel_env

        self.modules = modules
        self.unswept = 0  # jobs handed out whose sweep the zygote has not reported yet
        self.pending = ""  # a partial protocol line
        self.jobs = tempfile.mkdtemp(prefix="course-zygote-")
        self.sock = os.path.join(self.jobs, "zygote.sock")
        bwrap = bwrap_works()
        if bwrap is None:
            raise RuntimeError("bubblewrap cannot run here")
        # the sandbox holds course_utils but not the checkout: this file's text goes in as ``python -c``
        with open(__file__) as fh:
            source = fh.read()
        command = [*bwrap_command(bwrap, Spec(writable=[self.jobs])), sys.executable, "-c", source,
                   "serve", self.sock, *modules]
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=kernel_env({**os.environ, **env}), text=True)
        line = self.proc.stdout.readline().strip()
        if line != READY:
            self.close()
            raise RuntimeError(f"the zygote did not start ({line!r})")

    def alive(self) -> bool:
        return self.proc.poll() is None and os.path.exists(self.sock)

    def ready_for_a_job(self, seconds: float = 30) -> bool:
        """Wait until the zygote has swept up after every job it was given (so that nothing of one
        submission is there when the next one's folder is made); False: it did not (it is broken)."""
        deadline = time.monotonic() + seconds
        fd = self.proc.stdout.fileno()
        poller = select.poll()  # not select(): a long-lived grader may hold descriptors past FD_SETSIZE
        poller.register(fd, select.POLLIN)
        while self.unswept and time.monotonic() < deadline:
            if not poller.poll(max(0, int((deadline - time.monotonic()) * 1000))):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            self.pending += chunk.decode(errors="replace")
            *lines, self.pending = self.pending.split("\n")
            self.unswept -= sum(line.strip() == SWEPT for line in lines)
        return self.unswept <= 0 and self.alive()

    def extend(self, modules: tuple[str, ...], seconds: float = 120) -> bool:
        """Have the zygote (idle, between jobs) import what of ``modules`` it has not; False: it did not
        answer (it is broken)."""
        missing = [m for m in modules if m not in self.modules]
        if not missing:
            return True
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(seconds)
                conn.connect(self.sock)
                conn.sendall(json.dumps({"import": missing}).encode() + b"\n")
                answered = _read_line(conn).strip() == IMPORTED.encode()
        except OSError:
            return False
        if answered:
            self.modules += tuple(missing)
        return answered

    def job_folder(self) -> tempfile.TemporaryDirectory:
        """The next job's folder (the zygote empties the jobs folder after each job)."""
        self.unswept += 1
        return tempfile.TemporaryDirectory(dir=self.jobs, prefix="job-", ignore_cleanup_errors=True)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.jobs, ignore_errors=True)


_local = threading.local()
_all: list[Zygote] = []


def framework(modules: tuple[str, ...]) -> str:
    """Which framework's zygote serves ``modules``: labs of one framework share it (the reference run's
    setup modules and the tasks' longer list, lab after lab, each extending it)."""
    roots = {m.split(".")[0] for m in modules}
    return "tensorflow" if roots & {"tensorflow", "keras"} else "torch" if roots & {"torch", "torchvision"} else \
        "+".join(sorted(roots))


def for_this_thread(modules: tuple[str, ...], env: dict) -> Zygote | None:
    """This thread's zygote for ``modules``' framework and ``env`` (the thread limits), started when needed
    and extended with what of ``modules`` it has not imported yet; None when none can start here (the
    kernel then starts cold, as without a zygote)."""
    if not modules:
        return None
    key = (framework(modules), tuple(sorted(env.items())))
    pool = _local.__dict__.setdefault("zygotes", {})
    zygote = pool.get(key)
    if zygote is not None and zygote.ready_for_a_job() and zygote.extend(modules):
        return zygote
    if zygote is not None:
        zygote.close()
    try:
        pool[key] = zygote = Zygote(modules, env)
    except (OSError, RuntimeError):
        pool.pop(key, None)
        return None
    _all.append(zygote)
    return zygote


def close_this_thread() -> None:
    """End this thread's zygotes (the next warm kernel starts a new one)."""
    for zygote in _local.__dict__.pop("zygotes", {}).values():
        zygote.close()


@atexit.register
def _close_all() -> None:
    for zygote in _all:
        zygote.close()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "attach":  # attach SOCKET -f CONNECTION_FILE
        sys.exit(attach(sys.argv[2], sys.argv[4]))
