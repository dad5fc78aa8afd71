"""The grader's judging, without a kernel: probe rewriting, data decoding, verdicts, and the scan's parser."""
import ast
import json

import nbformat
import numpy as np
import pytest

from instructor.grading import checks, probes, recorder
from instructor.notebooks import ROOT, labs
from instructor.safety import find_tampering


def roundtrip(value):
    return checks.decode(json.loads(json.dumps(recorder.data(value))))


def test_recorder_data_round_trips_without_code_execution():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = roundtrip(arr)
    assert isinstance(back, checks.Array) and back.value.dtype == np.float32 and np.array_equal(back.value, arr)
    assert roundtrip((1, [2.5, "a"], {"k": None})) == (1, (2.5, "a"), {"k": None})
    assert roundtrip({"gamma", "beta"}) == frozenset({"gamma", "beta"})
    assert np.isnan(roundtrip(float("nan")))
    with pytest.raises(checks.ProbeDataError):
        checks.decode({"array": "AAAA", "dtype": "|O", "shape": [1]})  # object arrays are refused
    with pytest.raises(checks.ProbeDataError):
        checks.decode({"what": 1})


def test_values_of_a_class_the_student_wrote_equal_nothing():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return np.ones(self.shape, bool)

    lie = roundtrip(np.zeros(3).view(Liar))
    assert isinstance(lie, checks.Opaque)
    ok, why = checks.close("numpy", lie, roundtrip(np.zeros(3)), {})
    assert not ok and "not numbers" in why


def test_comparisons_use_the_reference_and_its_tolerances():
    ref = roundtrip(np.array([1.0, 2.0], dtype=np.float32))
    assert checks.close("numpy", roundtrip(np.array([1.0, 2.0000001], dtype=np.float32)), ref, {"rtol": 1e-5})[0]
    ok, why = checks.close("numpy", roundtrip(np.array([1.0, 2.1], dtype=np.float32)), ref, {"rtol": 1e-5})
    assert not ok and "largest difference 0.1" in why
    assert not checks.close("numpy", roundtrip(np.ones(3)), ref, {})[0]  # shape
    assert not checks.close("equal", roundtrip(np.array([1.0, 2.0 + 1e-9])), roundtrip(np.array([1.0, 2.0])), {})[0]


def test_torch_defaults_and_dtype_check():
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0])
    assert checks.close("torch", roundtrip(x + 1e-7), roundtrip(x), {})[0]
    assert not checks.close("torch", roundtrip(x + 1e-3), roundtrip(x), {})[0]
    ok, why = checks.close("torch", roundtrip(x.double()), roundtrip(x), {})
    assert not ok and "dtype" in why
    assert checks.close("torch", roundtrip(x.double()), roundtrip(x), {"check_dtype": False})[0]
    param = roundtrip(torch.nn.Parameter(torch.ones(2)))
    assert checks.evaluate(("pred", "isinstance", [0, 1], {}), [param, roundtrip(torch.nn.Parameter)])
    assert not checks.evaluate(("pred", "isinstance", [0, 1], {}), [roundtrip(x), roundtrip(torch.nn.Parameter)])


def assert_tree(source: str):
    leaves = []
    tree = probes.shape(ast.parse(source, mode="eval").body, leaves)
    return tree, leaves


def test_asserts_are_re_evaluated_from_the_source_structure():
    tree, leaves = assert_tree("a is not None and a.shape == (3,)")
    assert tree[0] == "and" and len(leaves) == 4
    assert checks.evaluate(tree, [(1, 2, 3), None, (3,), (3,)])
    assert not checks.evaluate(tree, [None, None, checks.Opaque("raised", "AttributeError"), (3,)])
    tree, leaves = assert_tree("{'running_mean', 'running_var'} <= names")
    assert checks.evaluate(tree, [frozenset({"running_mean", "running_var"}), frozenset({"running_mean", "running_var", "n"})])
    assert not checks.evaluate(tree, [frozenset({"running_mean", "running_var"}), frozenset({"n"})])
    tree, _ = assert_tree("not out.requires_grad")
    assert checks.evaluate(tree, [False]) and not checks.evaluate(tree, [True])
    assert not checks.evaluate(tree, [checks.Opaque("raised", "TypeError")])  # an error never passes


def small_source() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cells = [("solution", "ex1", "def f(x):\n    return x + 1\n"),
             ("helper", "t_helpers", "def data(seed=0):\n    import numpy as np\n    return np.random.default_rng(seed).normal(size=3)\n"),
             ("grade", "test_f", "x = data()\nnp.testing.assert_allclose(f(x), x + 1)\n### BEGIN HIDDEN TESTS\n"
                                  "assert f(2) == 3, 'hidden message'\n### END HIDDEN TESTS\n"),
             ("solution", "ex2", "def g(x):\n    return f(x) * 2\n"),
             ("grade", "test_g", "assert g(1) == 4\n")]
    for kind, gid, src in cells:
        meta = {"grade_id": gid, "locked": kind != "solution", "solution": kind == "solution",
                "grade": kind == "grade", "points": 1 if kind == "grade" else 0, "schema_version": 3}
        nb.cells.append(nbformat.v4.new_code_cell(src, metadata={"nbgrader": meta}))
    return nb


def test_probe_phases_hold_no_answer_they_judge_and_students_get_no_expected_side():
    probe = probes.build("demo", small_source())
    assert [[gid for _, gid, _ in phase] for phase in probe.phases] == [["t_helpers", "test_f"], ["ex1", "t_helpers", "test_g"]]
    student, reference = probe.phases[0][-1][2], probe.reference_phases[0][-1][2]
    assert "x + 1" in reference and "x + 1" not in student.split("__course__.check")[0]
    assert "__course__.offset" in probe.phases[0][0][2]  # the helper's seed is shifted
    hidden = [s for s in probe.sites.values() if s.hidden]
    assert len(hidden) == 1 and hidden[0].kind == "assert"
    assert all("hidden message" not in text for _, _, text in probe.phases[0])


def test_judging_needs_the_same_checks_as_the_solution():
    probe = probes.build("demo", small_source())
    site_f = [n for n, s in probe.sites.items() if s.cell == "test_f" and s.kind == "numpy"][0]
    site_h = [n for n, s in probe.sites.items() if s.cell == "test_f" and s.kind == "assert"][0]
    ref_close = ["close", site_f, recorder.data(np.array([2.0])), recorder.data(np.array([2.0])), {}]
    solution = {"test_f": {"events": [ref_close, ["assert", site_h, [3, 3]]], "error": None},
                "test_g": {"events": [["assert", [n for n, s in probe.sites.items() if s.cell == "test_g"][0], [4, 4]]],
                           "error": None}}
    reference = {"runs": {"7": solution}}
    good = {"runs": [{"offset": 7, "cells": solution}]}
    assert all(v.passed for v in checks.judge(probe, good, reference, 7))
    wrong = json.loads(json.dumps(good))
    wrong["runs"][0]["cells"]["test_f"]["events"][0][2] = recorder.data(np.array([2.5]))
    verdicts = {v.grade_id: v for v in checks.judge(probe, wrong, reference, 7)}
    assert not verdicts["test_f"].passed and "line 2" in verdicts["test_f"].message and verdicts["test_g"].passed
    short = json.loads(json.dumps(good))
    short["runs"][0]["cells"]["test_f"] = {"events": short["runs"][0]["cells"]["test_f"]["events"][:1], "error": "ValueError"}
    message = {v.grade_id: v for v in checks.judge(probe, short, reference, 7)}["test_f"].message
    assert "a hidden check" in message and "ValueError" in message and "hidden message" not in message
    other_offset = json.loads(json.dumps(good))
    other_offset["runs"][0]["offset"] = 8
    assert not any(v.passed for v in checks.judge(probe, other_offset, reference, 7))
    replaced = dict(good, replaced=["isinstance"])
    assert not any(v.passed for v in checks.judge(probe, replaced, reference, 7))


def test_payload_is_taken_once_with_the_run_nonce():
    doc = json.dumps({"nonce": "abc", "runs": []})
    out = {"output_type": "display_data", "data": {recorder.MIME: doc}}
    assert checks.read_payload([out], "abc")["runs"] == []
    for outputs, nonce in (([out, out], "abc"), ([out], "other"), ([], "abc")):
        with pytest.raises(checks.ProbeDataError):
            checks.read_payload(outputs, nonce)


@pytest.mark.parametrize("lab", labs())
def test_every_lab_probe_builds_and_covers_every_comparison(lab):
    source = nbformat.read(ROOT / "source" / lab / f"{lab}.ipynb", as_version=4)
    probe = probes.build(lab, source)
    assert set(probe.order) == {c.metadata["nbgrader"]["grade_id"] for c in source.cells
                                if c.metadata.get("nbgrader", {}).get("grade")}
    for phase in probe.phases + probe.reference_phases:
        for kind, gid, text in phase:
            tree = ast.parse(text)
            if kind == "solution":
                continue
            for node in ast.walk(tree):  # no verdict is left in the kernel
                assert not isinstance(node, ast.Assert), f"{lab} {gid}: an assert survived"
                if isinstance(node, ast.Call):
                    name = ast.unparse(node.func)
                    assert not (("testing." in name or "debugging." in name) and "assert" in name), \
                        f"{lab} {gid}: {name} is not recorded (add it to probes.CLOSE_CALLS)"


def test_the_scan_reads_cells_with_odd_line_separators():
    source = small_source()
    submission = nbformat.from_dict(source)
    submission.cells[0].source = "note = 'a\u2028b'\nimport builtins\nbuiltins.sorted = lambda *a: []\n" + submission.cells[0].source
    findings = find_tampering(submission, source)
    assert any("builtins" in str(f) for f in findings), findings
