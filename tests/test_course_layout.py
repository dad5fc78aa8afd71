"""Static checks of the course material (no kernels): layout, notebook anatomy, pins, badges."""
import re

import nbformat
import pytest

from course_utils import course_info
from instructor.notebooks import ROOT, dumps, labs, normalized, source_notebook, stamped

LABS = labs()


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def test_layout():
    for name in ("source", "release", "autograded", "course_utils", "environment.yml", "nbgrader_config.py",
                 "Makefile", "README.md", ".ci/run", "pyproject.toml", "requirements.txt"):
        assert (ROOT / name).exists(), f"missing {name}"
    assert LABS, "no lab in source/"
    for lab in LABS:
        extra = [p.name for p in (ROOT / "source" / lab).iterdir() if p.name != f"{lab}.ipynb"]
        assert not extra, f"source/{lab} holds {extra}: generate_assignment would copy them into release/"


def test_environment_yml_pins_equal_requirements():
    def pins(text):
        return set(re.findall(r"^[\s-]*([A-Za-z0-9_.-]+==[^\s#]+)", text, re.M))
    assert pins((ROOT / "requirements.txt").read_text()) == pins((ROOT / "environment.yml").read_text())
    student = pins((ROOT / "requirements-student.txt").read_text())
    assert student <= pins((ROOT / "requirements.txt").read_text()), "the student set pins other versions than CI's"
    tools = {pin.split("==")[0] for pin in student} & {"nbgrader", "dask", "distributed", "papermill", "pytest",
                                                         "selenium", "jupytext"}
    assert not tools, f"instructor/test tools in the student set: {tools}"
    student = pins((ROOT / "requirements-student.txt").read_text())
    assert student <= pins((ROOT / "requirements.txt").read_text()), "the student set pins other versions than CI's"
    tools = {pin.split("==")[0] for pin in student} & {"nbgrader", "dask", "distributed", "papermill", "pytest",
                                                         "selenium", "jupytext"}
    assert not tools, f"instructor/test tools in the student set: {tools}"


def test_colab_runtimes_name_their_python_and_frameworks():
    from instructor import colab_check

    assert {"2026.07", "2026.08"} <= set(colab_check.runtimes())
    for runtime in colab_check.runtimes():
        text = (ROOT / "colab" / f"{runtime}.txt").read_text()
        assert re.fullmatch(r"3\.1[0-9]", colab_check.python_of(runtime))
        for package in ("torch", "tensorflow", "keras", "numpy"):
            assert re.search(rf"^{package}==", text, re.M), f"colab/{runtime}.txt pins no {package}"


@pytest.mark.parametrize("lab", LABS)
def test_source_notebook_is_committed_normalized(lab):
    text = source_notebook(lab).read_text()
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert text == dumps(stamped(normalized(nb), lab)), \
        f"source/{lab} has outputs, run metadata or a stale address: run `make tidy`"


@pytest.mark.parametrize("lab", LABS)
def test_notebook_anatomy(lab):
    nb = nbformat.read(source_notebook(lab), as_version=4)
    cells = nb.cells
    assert course_info.colab_badge(lab) in cells[0].source, "title cell needs the Colab badge"
    assert "minutes" in cells[0].source and "Objectives" in cells[0].source
    setup = next(c for c in cells if nbgrader_meta(c).get("grade_id") == "setup")
    assert f'COURSE_PIP = "{course_info.pip_spec()}"' in setup.source
    assert nbgrader_meta(setup).get("locked")
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    namespace = {}
    exec(params[0].source, namespace)  # plain literals only
    assert namespace["MODE"] == "full"
    assert set(namespace["QUICK"]) == set(namespace["FULL"])
    ids = [nbgrader_meta(c)["grade_id"] for c in cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "duplicate grade_id"
    kept = [c for c in cells if not str(nbgrader_meta(c).get("grade_id", "")).endswith("helpers")]  # tests' code
    kinds = [("solution" if nbgrader_meta(c).get("solution") else "test" if nbgrader_meta(c).get("grade") else "")
             for c in kept]
    assert "solution" in kinds and "test" in kinds
    for i, kind in enumerate(kinds):
        if kind == "solution":
            assert "test" in kinds[i + 1:i + 4], f"solution cell {nbgrader_meta(kept[i])['grade_id']} has no test after it"
            assert "### BEGIN SOLUTION" in kept[i].source
        if kind == "test":
            meta = nbgrader_meta(kept[i])
            assert meta.get("locked") and meta.get("points", 0) > 0
            assert "### BEGIN HIDDEN TESTS" in kept[i].source, f"{meta['grade_id']} has no hidden tests"
    assert any(c.cell_type == "code" and "plt.show()" in c.source for c in cells), "the key experiment needs a plot"


def test_readme_has_a_badge_per_lab_and_two_commands():
    readme = (ROOT / "README.md").read_text()
    for lab in LABS:
        assert course_info.colab_badge(lab) in readme, f"README lacks the Colab badge of {lab}"
    assert "make course" in readme and "make test" in readme


def test_nbgrader_config_loads():
    """nbgrader ignores a config file that raises (it only logs), so a broken one must fail here."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.OverwriteCells.add_missing_cells is True
    assert config.IgnorePattern.enabled is True
    assert config.Execute.timeout > 0
    from instructor.grading import Limits  # the course's grader and plain nbgrader stop a cell at the same time

    assert Limits().cell_seconds == config.Execute.timeout
    assert [p.__name__ for p in config.GenerateFeedback.preprocessors][-1] == "HideHiddenTests"
    assert "TrimOutputs" in [p.__name__ for p in config.Autograde.autograde_preprocessors]


def test_nbgrader_forked_from_its_server_behaves_as_the_command(tmp_path):
    """instructor.course.nbgrader runs nbgrader in a child of a server that imported it once: the same exit
    code and output as ``python -m nbgrader`` started in the repository (its nbgrader_config.py loaded: the
    course's root and options), and a failing command still stops with its log."""
    from instructor import course

    for args in (("--version",), ("generate_assignment", "no_such_lab"), ("db", "assignment", "list")):
        forked, stock = (course.nbgrader(*args, root=tmp_path, check=False, fresh_process=fresh)
                         for fresh in (False, True))
        assert forked.returncode == stock.returncode and forked.stdout == stock.stdout, (args, forked, stock)
        assert forked.stderr.splitlines()[-2:] == stock.stderr.splitlines()[-2:], (forked.stderr, stock.stderr)
    with pytest.raises(RuntimeError, match="generate_assignment no_such_lab .* failed \\(exit 1\\)"):
        course.nbgrader("generate_assignment", "no_such_lab", root=tmp_path)
