"""``make colab-check``: every solution notebook, hidden tests included, on Colab's own versions.

A runtime is a pinned file ``colab/<runtime>.txt`` (the versions of Colab's published manifest; its
``# python: X.Y`` line names the interpreter). For each runtime this builds ``build/colab/<runtime>/venv``
with that Python (once; again when the file changes), installs ``course_utils`` into it as the Colab
setup cell would, registers it as a Jupyter kernel, and runs every lab's solution notebook in quick
mode on that kernel with papermill from the course's own environment. The table (lab x runtime: pass
or the failing cell, seconds) is printed and written to ``build/colab/report.md``, joining every
runtime checked so far (``build/colab/<runtime>/results.json``).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .notebooks import ROOT, labs

RUNTIMES = ROOT / "colab"
BUILD = ROOT / "build" / "colab"
VERSIONS = ("python", "torch", "torchvision", "tensorflow", "keras", "numpy")


class SetupError(RuntimeError):
    """The runtime's environment could not be built (no such Python, a package the registry lacks)."""


def runtimes(folder: Path = RUNTIMES) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.txt"))


def python_of(runtime: str, folder: Path = RUNTIMES) -> str:
    text = (folder / f"{runtime}.txt").read_text()
    match = re.search(r"^# python: (\d+\.\d+)\s*$", text, re.M)
    if not match:
        raise SetupError(f"colab/{runtime}.txt has no '# python: X.Y' line naming the runtime's Python")
    return match[1]


def interpreter(version: str) -> str:
    """``pythonX.Y`` on PATH (pyenv's shims included); a clear error when there is none."""
    for candidate in (f"python{version}", str(Path.home() / f".pyenv/versions/{version}/bin/python")):
        found = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
            return found
    pyenv = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))
    if pyenv:
        return str(pyenv[-1])
    raise SetupError(f"Python {version} is not installed here (no python{version} on PATH); install it "
                     f"(for example `pyenv install {version}`) to check this runtime")


def environment(runtime: str, log, folder: Path = RUNTIMES, build: Path = BUILD) -> Path:
    """``build/colab/<runtime>/venv`` with the runtime's packages and course_utils; built when missing."""
    requirements = folder / f"{runtime}.txt"
    venv = build / runtime / "venv"
    stamp = build / runtime / "installed.txt"  # the requirements it was built from
    if stamp.exists() and stamp.read_text() == requirements.read_text():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = interpreter(python_of(runtime, folder))
    steps = [[python, "-m", "venv", str(venv)],
             [str(venv / "bin/pip"), "install", "--disable-pip-version-check", "-q", "-r", str(requirements)],
             [str(venv / "bin/pip"), "install", "--disable-pip-version-check", "-q", "--no-deps", "-e", str(ROOT)]]
    for step in steps:
        log.write(f"$ {' '.join(step)}\n")
        log.flush()
        if subprocess.run(step, stdout=log, stderr=subprocess.STDOUT).returncode != 0:
            raise SetupError(f"building the {runtime} environment failed at `{' '.join(step[:4])} …` "
                             f"(see {log.name})")
    stamp.write_text(requirements.read_text())
    return venv


def kernel(runtime: str, venv: Path, build: Path = BUILD) -> tuple[str, str]:
    """Register the runtime's Python as a kernel under build/colab/<runtime>/jupyter; (name, JUPYTER_PATH)."""
    name = f"colab-{runtime}"
    prefix = build / runtime / "jupyter"
    subprocess.run([str(venv / "bin/python"), "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", name,
                    "--display-name", f"Colab {runtime}"], check=True, capture_output=True)
    return name, str(prefix / "share" / "jupyter")


def versions(venv: Path) -> dict:
    code = ("import importlib.metadata as m, platform; print('python', platform.python_version())\n"
            "for p in %r[1:]:\n    print(p, m.version(p))" % (VERSIONS,))
    out = subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True, text=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


@dataclass
class LabRun:
    lab: str
    runtime: str
    ok: bool
    seconds: float
    detail: str = ""


def run_lab(lab: str, runtime: str, kernel_name: str, jupyter_path: str, out: Path) -> LabRun:
    """One solution notebook in quick mode on the runtime's kernel; the failing cell's error when it fails."""
    import papermill

    from . import pipeline

    start = time.perf_counter()
    os.environ["JUPYTER_PATH"] = jupyter_path  # where jupyter_client looks up the kernel's spec
    with tempfile.TemporaryDirectory(prefix="colab-refs-") as refs:
        try:
            pipeline.execute(lab, "quick", output_dir=out, kernel_name=kernel_name,
                             extra_parameters=pipeline.reference_parameters(lab, Path(refs)))
        except papermill.PapermillExecutionError as err:
            return LabRun(lab, runtime, False, time.perf_counter() - start,
                          f"cell {err.exec_count}: {err.ename}: {str(err.evalue).splitlines()[0][:160] if err.evalue else ''}")
        except Exception as err:  # noqa: BLE001  a kernel that would not start, a dead kernel: reported, next lab
            return LabRun(lab, runtime, False, time.perf_counter() - start, f"{type(err).__name__}: {err}"[:200])
    return LabRun(lab, runtime, True, time.perf_counter() - start)


def table(results: list[LabRun], found: dict) -> str:
    chosen = sorted({r.runtime for r in results})
    lines = ["| lab | " + " | ".join(chosen) + " |", "|---|" + "---|" * len(chosen)]
    lines.append("| versions | " + " | ".join(", ".join(f"{k} {v}" for k, v in found.get(rt, {}).items())
                                           for rt in chosen) + " |")
    cell = {(r.lab, r.runtime): r for r in results}
    for lab in sorted({r.lab for r in results}):
        row = []
        for rt in chosen:
            r = cell.get((lab, rt))
            row.append("-" if r is None else f"pass ({r.seconds:.0f} s)" if r.ok else f"FAIL: {r.detail}")
        lines.append(f"| {lab} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(chosen_runtimes: list[str] | None, chosen_labs: list[str] | None, say=print,
         folder: Path = RUNTIMES, build: Path = BUILD) -> int:
    """Check the runtimes (default: every ``folder/*.txt``); 0 all pass, 1 a lab failed, 2 unknown runtime,
    3 an environment could not be built."""
    chosen_runtimes = chosen_runtimes or runtimes(folder)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels inherit it: TensorFlow's C++ log lines stay off
    unknown = [rt for rt in chosen_runtimes if rt not in runtimes(folder)]
    if unknown:
        say(f"error: unknown runtime {', '.join(unknown)}; the runtimes are: {', '.join(runtimes(folder))} ({folder}/*.txt)")
        return 2
    results, found, failed_setup = [], {}, []
    for runtime in chosen_runtimes:
        build.joinpath(runtime).mkdir(parents=True, exist_ok=True)
        with open(build / runtime / "install.log", "a") as log:
            try:
                start = time.perf_counter()
                venv = environment(runtime, log, folder, build)
                say(f"{runtime}: environment ready in {time.perf_counter() - start:.0f} s ({venv})")
            except SetupError as err:
                say(f"{runtime}: {err}")
                failed_setup.append(runtime)
                continue
        found[runtime] = versions(venv)
        name, jupyter_path = kernel(runtime, venv, build)
        for lab in chosen_labs or labs():
            result = run_lab(lab, runtime, name, jupyter_path, build / runtime / "executed")
            results.append(result)
            say(f"{runtime} {lab:28s} {'pass' if result.ok else 'FAIL'} {result.seconds:6.1f} s {result.detail}")
    for runtime in found:  # this run's results per runtime; the report joins every runtime checked so far
        mine = [dataclasses.asdict(r) for r in results if r.runtime == runtime]
        (build / runtime / "results.json").write_text(json.dumps({"versions": found[runtime], "labs": mine}, indent=1))
    every, versions_of = [], {}
    for path in sorted(build.glob("*/results.json")):
        data = json.loads(path.read_text())
        versions_of[path.parent.name] = data["versions"]
        every += [LabRun(**r) for r in data["labs"]]
    report = table(every, versions_of)
    (build / "report.md").write_text(report + "\n")
    say("\n" + report + f"\n\n(table: {build / 'report.md'})")
    if failed_setup:
        return 3
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or None, None))
