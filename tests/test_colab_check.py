"""``make colab-check`` (instructor/colab_check.py) on runtimes made here: the real runtimes of ``colab/`` are
checked by ``make colab-check`` itself (in CI when its time allows), since each installs several GB."""
import json
import re
import sys
from pathlib import Path

from instructor import colab_check
from instructor.notebooks import ROOT


def test_colab_runtimes_name_their_python_and_frameworks():
    assert {"2026.07", "2026.08", "lowest"} <= set(colab_check.runtimes())
    for runtime in colab_check.runtimes():
        text = (ROOT / "colab" / f"{runtime}.txt").read_text()
        assert re.fullmatch(r"3\.1[0-9]", colab_check.python_of(runtime))
        for package in ("torch", "tensorflow", "keras", "numpy"):
            assert re.search(rf"^{package}==", text, re.M), f"colab/{runtime}.txt pins no {package}"


def test_colab_check_runs_a_lab_on_a_runtime_kernel_and_reports(tmp_path):
    """The whole check on a runtime whose environment is this venv (linked in, nothing installed), and a
    runtime whose Python does not exist here: one lab passes, the other runtime is reported, not raised."""
    folder, build = tmp_path / "colab", tmp_path / "build"
    folder.mkdir()
    (folder / "here.txt").write_text("# python: 3.11\nnumpy\n")
    (folder / "nowhere.txt").write_text("# python: 3.99\nnumpy\n")
    (build / "here").mkdir(parents=True)
    (build / "here" / "venv").symlink_to(Path(sys.prefix))  # the test's own environment
    (build / "here" / "installed.txt").write_text((folder / "here.txt").read_text())
    lines = []
    assert colab_check.main(["nowhere"], ["tf05_adain"], say=lines.append, folder=folder, build=build) == 3
    assert any("Python 3.99 is not installed here" in line for line in lines)
    assert colab_check.main(["here", "later"], None, say=lines.append, folder=folder, build=build) == 2
    assert colab_check.main(["here"], ["tf05_adain"], say=lines.append, folder=folder, build=build) == 0
    result = json.loads((build / "here" / "results.json").read_text())
    assert [r["ok"] for r in result["labs"]] == [True] and result["versions"]["keras"]
    report = (build / "report.md").read_text()
    assert "| tf05_adain | pass (" in report and "| versions | python 3.11" in report
