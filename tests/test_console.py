"""The instructor's console (instructor/console.py) and papermill-parseable parameters cells. No kernels."""
import logging
import subprocess
import sys
import textwrap

import pytest

from instructor.notebooks import ROOT, labs, papermill_parameters, source_notebook

LABS = labs()


def parameters_cell(lab):
    from papermill.iorw import load_notebook_node

    nb = load_notebook_node(str(source_notebook(lab)))  # as papermill reads it (tags on every cell)
    return nb, next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))


@pytest.mark.parametrize("lab", LABS)
def test_papermill_parses_the_parameters_cell_and_overrides_quick(lab, caplog):
    from papermill.inspection import _infer_parameters
    from papermill.parameterize import parameterize_notebook

    nb, cell = parameters_cell(lab)
    assert papermill_parameters(cell.source) == cell.source, "run `make tidy`: papermill cannot parse dict(...) lines"
    with caplog.at_level(logging.WARNING, logger="papermill"):
        names = {p.name for p in _infer_parameters(nb)}
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()]
    assert {"MODE", "SEED", "FULL", "QUICK"} <= names
    # papermill -p/-y QUICK ...: the injected cell overrides the knobs
    before = {}
    exec(cell.source, before)
    # as `-y "QUICK: {...}"` gives it (YAML has lists, no tuples; papermill writes a tuple as a string)
    quick = {**{k: list(v) if isinstance(v, tuple) else v for k, v in before["QUICK"].items()}, "marker": 1}
    injected = parameterize_notebook(nb, {"QUICK": quick, "MODE": "quick"}, kernel_name="python3", language="python")
    namespace = {}
    index = next(i for i, c in enumerate(injected.cells) if "injected-parameters" in c.metadata.get("tags", []))
    exec(injected.cells[index - 1].source + "\n" + injected.cells[index].source, namespace)
    assert namespace["QUICK"] == quick and namespace["MODE"] == "quick" and namespace["FULL"] == before["FULL"]


def test_dict_calls_become_equal_literals():
    src = 'MODE = "full"\nFULL = dict(a=1, b=(2, 3), c="x")  # note\nQUICK = dict(a=0, b=(1,), c="y")'
    new = papermill_parameters(src)
    assert new == 'MODE = "full"\nFULL = {"a": 1, "b": (2, 3), "c": "x"}  # note\nQUICK = {"a": 0, "b": (1,), "c": "y"}'
    a, b = {}, {}
    exec(src, a)
    exec(new, b)
    assert a["FULL"] == b["FULL"] and a["QUICK"] == b["QUICK"]


def test_quiet_sends_children_and_logging_to_the_log(tmp_path):
    log = tmp_path / "step.log"
    script = textwrap.dedent(f"""
        import logging, subprocess, sys, warnings
        from pathlib import Path
        from instructor.console import console, quiet
        with quiet("step", Path({str(log)!r})):
            console.say("the line that matters")
            print("python stdout")
            subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('kernel noise\\\\n')"])
            logging.getLogger("papermill").warning("Unable to parse line 5")
            warnings.warn("a warning")
            from tqdm import tqdm
            for _ in tqdm(range(2), desc="grade", file=console.stream):  # as grade_class(progress=console.stream)
                pass
        print("after")
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("the line that matters\n") and "grade: 100%" in proc.stdout, proc.stdout
    assert proc.stdout.rstrip().endswith("after")
    for noise in ("python stdout", "kernel noise", "Unable to parse", "a warning"):
        assert noise not in proc.stdout + proc.stderr
        assert noise in log.read_text()
