"""The README's student commands, run as written, in a copy of the repository with no environment.

The block between ``<!-- student-install -->`` and ``<!-- /student-install -->`` in the README is run line by
line with bash, unchanged; only the last line (``jupyter lab``) gets the flags a test needs to start it
headless on a free port. The test then asks the running JupyterLab for the release notebooks, checks that the
environment imports what the labs need and none of the instructor's tools, and records its size.
"""
from __future__ import annotations

import json
import os
import re
import signal
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.xdist_group("student-install")
COPIED = ("README.md", "requirements-student.txt", "pyproject.toml", "course_utils", "release")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- student-install -->\s*```bash\n(.*?)```\s*<!-- /student-install -->", text, re.S)
    assert block, "README: the student commands must sit in a ```bash block between <!-- student-install --> markers"
    return [line.strip() for line in block[1].splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_readme_student_commands_as_written(tmp_path, record_property):
    commands = readme_commands()
    assert commands[-1].startswith(".venv/bin/jupyter lab"), commands[-1]
    checkout = tmp_path / "course"
    checkout.mkdir()
    for name in COPIED:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, checkout / name)
    # test-only: pip skips compiling some 15,000 files to bytecode (PIP_COMPILE=0 is pip's --no-compile; Python
    # compiles a module when it is first imported); what gets installed, and from where, is the same
    env = {**os.environ, "PIP_COMPILE": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for command in commands[:-1]:
        proc = subprocess.run(["bash", "-c", command], cwd=checkout, capture_output=True, text=True, timeout=1500,
                              env=env)
        assert proc.returncode == 0, f"README command failed: {command}\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    python = checkout / ".venv" / "bin" / "python"
    probe = ("import importlib.util as u, json\n"
             "need = ['torch', 'torchvision', 'tensorflow', 'keras', 'sklearn', 'skimage', 'matplotlib', 'course_utils',"
             " 'jupyterlab', 'ipykernel']\n"
             "tools = ['nbgrader', 'dask', 'distributed', 'papermill', 'pytest', 'selenium', 'jupytext']\n"
             "print(json.dumps({'missing': [m for m in need if u.find_spec(m) is None],"
             " 'tools': [m for m in tools if u.find_spec(m) is not None]}))")
    found = json.loads(subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout)
    assert found == {"missing": [], "tools": []}, found
    size = subprocess.run(["du", "-sm", str(checkout / ".venv")], capture_output=True, text=True).stdout.split()[0]
    packages = len(json.loads(subprocess.run([str(python), "-m", "pip", "list", "--format=json"],
                                             capture_output=True, text=True, check=True).stdout))
    record_property("student_venv", f"{size} MB, {packages} packages")
    print(f"student environment: {size} MB, {packages} packages")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # test-only flags: headless, a free port, a known token; --allow-root because CI runs as root
    # (JupyterLab refuses root without it; a student is not root)
    flags = f" --no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token=student-test"
    flags += " --allow-root" if os.geteuid() == 0 else ""
    server = subprocess.Popen(["bash", "-c", commands[-1] + flags],
                              cwd=checkout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        listing, deadline = None, time.time() + 120
        while time.time() < deadline and listing is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token=student-test", timeout=5) as r:
                    listing = json.loads(r.read())
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(1)
        assert listing is not None, f"JupyterLab did not answer: {server.stdout.read().decode()[-3000:] if server.poll() is not None else ''}"
        served = {item["name"] for item in listing["content"]}
        assert {"pt01_batchnorm", "tf01_batchnorm"} <= served, served
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
