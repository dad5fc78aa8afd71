"""The Colab path, simulated: a bare environment whose setup cell pip-installs course_utils from git.

In Colab the setup cell of a lab finds no ``course_utils`` and runs one ``pip install`` of
``course_info.pip_spec()`` (``git+https://github.com/<repo>.git@<branch>``). Here:

* the repository is cloned into a temporary folder and the working tree's package files
  (``pyproject.toml``, ``README.md``, ``course_utils/``) are committed on top, so the test installs
  what would be pushed, uncommitted edits included;
* a fresh virtual environment gets the shared ``.venv``'s third-party packages (torch, TensorFlow,
  numpy, ...) through a folder of links — everything but course_utils and its editable-install
  finder — so nothing heavy is downloaded again and ``course_utils`` is not importable;
* the release notebook's setup cell keeps its code, with the address swapped for
  ``git+file://<clone>@<branch>`` (the same form as the real one); pip runs offline
  (``PIP_NO_INDEX``, no build isolation: setuptools comes from the shared packages);
* the whole release notebook, answers filled in from the source's solution cells, runs in quick mode
  in a kernel of that environment, from a folder outside the repository.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
import pytest

from course_utils import course_info
from instructor.notebooks import PIP_LINE, ROOT

pytestmark = pytest.mark.xdist_group("colab")

LAB = "tf05_adain"  # the cheapest quick mode of the course
PACKAGE_FILES = ("pyproject.toml", "README.md", "course_utils")


def git(*args, cwd):
    env = {**os.environ, "GIT_AUTHOR_NAME": "colab-path test", "GIT_AUTHOR_EMAIL": "test@localhost",
           "GIT_COMMITTER_NAME": "colab-path test", "GIT_COMMITTER_EMAIL": "test@localhost"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def clone_with_working_tree(to: Path) -> str:
    """Clone this repository and commit the working tree's package files on ``course_info.BRANCH``."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the Colab path installs from a git repository")
    git("clone", "--quiet", str(ROOT), str(to), cwd=ROOT.parent)
    git("checkout", "--quiet", "-B", course_info.BRANCH, cwd=to)
    for name in PACKAGE_FILES:
        target = to / name
        if target.is_dir():
            shutil.rmtree(target)
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(ROOT / name, target)
    git("add", "--all", *PACKAGE_FILES, cwd=to)
    git("commit", "--quiet", "--allow-empty", "-m", "working tree", cwd=to)
    return f"git+file://{to}@{course_info.BRANCH}"


def bare_environment(at: Path) -> Path:
    """A venv without course_utils that sees the shared .venv's other packages; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(at)], check=True)
    python = at / "bin" / "python"
    shared = Path(sysconfig.get_paths()["purelib"])
    view = at / "shared-packages"
    view.mkdir()
    hidden = re.compile(r"^(course_utils|__editable__|.*\.pth$|__pycache__$)", re.I)
    for entry in shared.iterdir():
        if not hidden.match(entry.name):
            (view / entry.name).symlink_to(entry)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "shared-packages.pth").write_text(f"{view}\n")
    return python


def test_setup_cell_installs_course_utils_from_git_and_the_lab_runs(tmp_path):
    import papermill

    start = time.perf_counter()
    spec = clone_with_working_tree(tmp_path / "repo")
    python = bare_environment(tmp_path / "env")
    work = tmp_path / "student"  # outside the repository: no course_utils in the working directory
    work.mkdir()
    probe = "import importlib.util as u; print(u.find_spec('course_utils'))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "NBGRADER", "PIP_"))}
    before = subprocess.run([str(python), "-c", probe], cwd=work, env=env, capture_output=True, text=True)
    assert before.stdout.strip() == "None", f"course_utils is importable before the setup cell: {before}"

    # the release notebook, answered, with the install address pointing at the clone
    source = nbformat.read(ROOT / "source" / LAB / f"{LAB}.ipynb", as_version=4)
    nb = nbformat.read(ROOT / "release" / LAB / f"{LAB}.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert PIP_LINE.search(setup.source), "the setup cell has no COURSE_PIP line"
    assert f'"{course_info.pip_spec()}"' in setup.source, "the setup cell is not stamped with course_info"
    setup.source = PIP_LINE.sub(f'COURSE_PIP = "{spec}"', setup.source)
    for i, cell in enumerate(source.cells):
        if cell.metadata.get("nbgrader", {}).get("solution"):
            nb.cells[i].source = "\n".join(line for line in cell.source.split("\n")
                                           if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    notebook = work / f"{LAB}.ipynb"
    nbformat.write(nb, notebook)

    # a kernel of the bare environment, pip offline
    kernels = tmp_path / "jupyter" / "kernels" / "colab-sim"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bare environment (Colab path)", "language": "python",
        "env": {"PYTHONPATH": "", "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1", "TF_CPP_MIN_LOG_LEVEL": "2"},
    }))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(tmp_path / "jupyter"), old]))
    try:
        papermill.execute_notebook(str(notebook), str(work / "executed.ipynb"), parameters={"MODE": "quick"},
                                   kernel_name="colab-sim", cwd=str(work), progress_bar=False, log_output=False)
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old

    # it really installed, into the bare environment, with the shipped reference files
    after = subprocess.run([str(python), "-c", "import course_utils, pathlib; p = pathlib.Path(course_utils.__file__)"
                            ".parent; print(p); print(sorted(x.name for x in (p / 'references').glob('*.npz')))"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    assert Path(after[0]).is_relative_to(tmp_path / "env"), f"course_utils came from {after[0]}"
    assert "pt05_adain.npz" in after[1], f"reference files missing from the installed package: {after[1]}"
    direct = next((tmp_path / "env").glob("lib/python*/site-packages/course_utils-*.dist-info/direct_url.json"))
    assert json.loads(direct.read_text())["url"] == spec[len("git+"):].rsplit("@", 1)[0], "not installed from the clone"
    executed = nbformat.read(work / "executed.ipynb", as_version=4)
    errors = [(i, o.ename) for i, c in enumerate(executed.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert time.perf_counter() - start < 300
