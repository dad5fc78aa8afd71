"""The diagnosis, without a kernel: matching a lost exercise's probe data with the catalogue's mistakes,
and the catalogue itself (every mistake has a hint that quotes neither the solution nor a hidden test).

The end-to-end checks live elsewhere: every library entry handed in and diagnosed (tests/test_mutants.py),
a class whose feedback, diagnoses.csv and class report carry the diagnosis (tests/test_grading.py).
"""
import ast
import json

import nbformat
import numpy as np
import pytest

from instructor import mutants
from instructor.grading import checks, diagnose, probes, recorder
from instructor.grading.probes import Probe, Site
from instructor.notebooks import labs, source_notebook


def rec(value):
    return json.loads(json.dumps(recorder.data(value)))


def tree_of(source):
    leaves = []
    return probes.shape(ast.parse(source, mode="eval").body, leaves)


# one exercise, two grade cells: g1 asserts a count, g2 compares an output with the solution's
PROBE = Probe("lab", phases=[[("grade", "g1", ""), ("grade", "g2", "")]], reference_phases=[],
              sites={1: Site("g1", 1, "assert", tree_of("count == 3"), False, "assert count == 3"),
                     2: Site("g2", 1, "numpy", None, True, "np.testing.assert_allclose(out, SECRET_INPUT)")},
              points={"g1": 1.0, "g2": 2.0}, order=["g1", "g2"], exercises=["ex"])
OFFSET = 7
SOLUTION_OUT = np.array([1.0, 2.0, 3.0], dtype=np.float32)
REFERENCE = {"runs": {str(OFFSET): {
    "g1": {"events": [["assert", 1, [rec(3), rec(3)]]], "error": None, "hooked": False},
    "g2": {"events": [["close", 2, rec(SOLUTION_OUT), rec(SOLUTION_OUT), {"rtol": rec(1e-6)}]], "error": None,
           "hooked": False}}}}


def record_of(count, out, error=None):
    return {"g1": {"events": [["assert", 1, [rec(count), rec(3)]]], "error": None, "hooked": False},
            "g2": {"events": [["close", 2, rec(out), None, {}]], "error": error, "hooked": False}}


def doc_of(count, out, **kw):
    return {"runs": [{"offset": OFFSET, "cells": record_of(count, out, **kw)}], "replaced": []}


UNBIASED = SOLUTION_OUT * np.float32(1.5)
CATALOGUE = {"mistakes": [
    {"name": "unbiased", "cell": "ex", "hint": "Your variance divides by N-1.", "equivalent": [],
     "runs": {str(OFFSET): record_of(3, UNBIASED)}},
    {"name": "wrong count", "cell": "ex", "hint": "You count twice.", "equivalent": [],
     "runs": {str(OFFSET): record_of(6, SOLUTION_OUT)}},
    {"name": "elsewhere", "cell": "other", "hint": "Not this exercise.", "equivalent": [],
     "runs": {str(OFFSET): record_of(3, UNBIASED)}}], "problems": []}


def run(doc, catalogue=CATALOGUE, **kw):
    verdicts = checks.judge(PROBE, doc, REFERENCE, OFFSET)
    return diagnose.diagnose(PROBE, doc, REFERENCE, catalogue, OFFSET, verdicts, **kw)


def test_a_mistake_is_named_when_every_check_behaves_as_it_does():
    noisy = UNBIASED * np.float32(1 + 3e-6)  # another implementation of the same mistake (rounding)
    [found] = run(doc_of(3, noisy))
    assert found.mistakes == ["unbiased"] and found.checks == 2
    assert "divides by N-1" in found.text()
    [found] = run(doc_of(6, SOLUTION_OUT))
    assert found.mistakes == ["wrong count"]


def test_nothing_is_named_for_another_mistake_or_a_right_answer():
    assert run(doc_of(3, SOLUTION_OUT)) == []                       # full marks: no diagnosis at all
    [found] = run(doc_of(3, UNBIASED * np.float32(1.01)))            # wrong, but not like any mistake
    assert found.mistakes == [] and "no known mistake" in found.text()
    [found] = run(doc_of(6, UNBIASED))                                # two mistakes at once: neither alone
    assert found.mistakes == []
    [found] = run(doc_of(3, UNBIASED.astype(np.float64)))            # same numbers, another dtype
    assert found.mistakes == []
    [found] = run(doc_of(3, UNBIASED, error="ValueError"))           # stopped where the mistake did not
    assert found.mistakes == []


def test_mistakes_that_behave_alike_are_reported_together():
    twin = dict(CATALOGUE["mistakes"][0], name="unbiased twin", hint="Your variance uses N-1 as well.")
    [found] = run(doc_of(3, UNBIASED), {"mistakes": CATALOGUE["mistakes"] + [twin], "problems": []})
    assert found.mistakes == ["unbiased", "unbiased twin"]
    assert "each of these known mistakes" in found.text() and "N-1 as well" in found.text()


def test_no_diagnosis_where_the_checks_could_not_run_or_the_stub_is_untouched():
    stub = doc_of(3, SOLUTION_OUT)
    stub["runs"][0]["cells"]["g2"] = {"events": [["close", 2, {"raised": "NotImplementedError"}, None, {}]],
                                      "error": None, "hooked": False}
    [found] = run(stub)
    assert found.mistakes == [] and found.note == diagnose.NOT_ATTEMPTED
    hooked = doc_of(3, UNBIASED)
    hooked["runs"][0]["cells"]["g2"]["hooked"] = True
    [found] = run(hooked)
    assert found.mistakes == [] and found.note
    [found] = run(doc_of(3, UNBIASED), seconds=-1)  # past its time limit: nothing is named
    assert found.mistakes == [] and "time limit" in found.note


def test_diagnosis_text_never_quotes_a_check():
    for doc in (doc_of(3, UNBIASED), doc_of(3, UNBIASED * 2)):
        for found in run(doc):
            assert "SECRET_INPUT" not in found.text() and "assert" not in found.text()


def test_same_compares_kinds_shapes_and_values():
    d = lambda v: checks.decode(rec(v))  # noqa: E731
    assert diagnose.same(d({"a", "b"}), d({"b", "a"}))
    assert not diagnose.same(d((1, 2)), d((1, 2, 3)))
    assert diagnose.same(d(np.float32(1.0)), d(np.float32(1.0 + 1e-6)))
    assert not diagnose.same(d(np.zeros((2, 3))), d(np.zeros((3, 2))))
    assert not diagnose.same(d("abc"), d("abd"))
    assert diagnose.same(checks.Opaque("raised", "ValueError"), checks.Opaque("raised", "ValueError", ident=1))
    assert not diagnose.same(checks.Opaque("raised", "ValueError"), checks.Opaque("raised", "TypeError"))
    assert not diagnose.same(d(np.array([1, 2])), d(np.array([1, 3])))


def test_the_released_form_of_the_solution_has_no_hidden_tests():
    lab = labs()[0]
    source = nbformat.read(source_notebook(lab), as_version=4)
    stripped = diagnose.without_hidden_tests(source)
    assert any(probes.HIDDEN_BEGIN in c.source for c in source.cells)
    assert not any(probes.HIDDEN_BEGIN in c.source for c in stripped.cells)


def _lines(nb, predicate):
    out = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and predicate(cell.metadata.get("nbgrader", {})):
            out |= {ln.strip() for ln in cell.source.split("\n") if len(ln.strip()) >= 12
                    and not ln.strip().startswith(("#", '"""', "def ", "class ", "return", "raise NotImplementedError"))}
    return out


@pytest.mark.parametrize("lab", sorted(set(mutants.mutant_labs()) & set(labs())))
def test_every_catalogued_mistake_has_a_hint_that_quotes_no_code(lab):
    source = nbformat.read(source_notebook(lab), as_version=4)
    solution_lines = _lines(source, lambda m: m.get("solution"))
    hidden = set()
    for cell in source.cells:
        inside = False
        for line in cell.source.split("\n"):
            inside = (inside or probes.HIDDEN_BEGIN in line) and probes.HIDDEN_END not in line
            if inside and len(line.strip()) >= 12:
                hidden.add(line.strip())
    for m in mutants.load_mutants(lab):
        assert m.hint and len(m.hint) <= 280, f"{lab}: {m.name!r} needs a hint of at most 280 characters"
        quoted = [ln for ln in solution_lines | hidden if ln in m.hint]
        assert not quoted, f"{lab}: the hint of {m.name!r} quotes code: {quoted[:2]}"
        assert not any(word in m.hint.lower() for word in ("hidden test", "mutant", "grader")), m.hint


def test_quality_counts_itself_equivalents_and_mislabels():
    def entry(name, role="mistake", equivalent=()):
        m = mutants.Mutant("lab", name, "ex", source="pass", equivalent=tuple(equivalent), role=role)
        return mutants.Result(m, "ex", 0.0, 1.0, [], 0.0)

    results = [entry("a", equivalent=["b"]), entry("b"), entry("c"), entry("d"), entry("u", "uncatalogued"),
               entry("v", "uncatalogued"), entry("ok", "correct")]
    named = {("ex", k): v for k, v in {"a": ["a", "b"], "b": ["a", "b"], "c": ["c"], "d": ["c"], "u": [],
                                        "v": ["c"], "ok": None}.items()}
    q = mutants.Quality("lab", results, named, [], 0.0)
    verdicts = {name: v for (_, name), v in q.verdicts().items()}
    assert verdicts["a"] == "equivalent" and verdicts["b"] == "equivalent"  # declared on one side
    assert verdicts["d"] == "as c"
    assert q.counts() == {"mistakes": 4, "self": 3, "uncatalogued": 2, "mislabelled": 1, "correct": 1,
                          "correct_diagnosed": 0}
    table = mutants.quality_table([q])
    assert "self-consistency 75.0%" in table and "ex: 'd' -> as c" in table and "mislabelled 50.0%" in table


def test_an_exercise_whose_checks_did_not_run_is_not_diagnosed():
    [found] = run({"runs": [], "replaced": []})
    assert found.mistakes == [] and "did not run" in found.note


def test_rounding_noise_near_zero_in_a_large_array_still_matches():
    d = lambda v: checks.decode(rec(v))  # noqa: E731
    grad = np.array([5.0, -3.0, 1e-4, 0.0], dtype=np.float32)
    noisy = grad + np.array([2e-6, -1e-6, 3e-5, -2e-5], dtype=np.float32)  # float32 reductions in another order
    assert diagnose.same(d(grad), d(noisy))
    assert not diagnose.same(d(grad), d(grad + np.array([0, 0, 1e-3, 0], dtype=np.float32)))  # a real difference


def test_addresses_are_compared_by_their_relations_only():
    tree = tree_of("a.data_ptr() != b.data_ptr()")
    probe = Probe("lab", [[("grade", "g", "")]], [], {1: Site("g", 1, "assert", tree, False, "")}, {"g": 1.0},
                  order=["g"], exercises=["ex"])
    shared = lambda p: {"events": [["assert", 1, [rec(p), rec(p)]]], "error": None, "hooked": False}  # noqa: E731
    apart = {"events": [["assert", 1, [rec(2 ** 45), rec(2 ** 45 + 64)]]], "error": None, "hooked": False}
    assert diagnose.cells_agree(probe, shared(2 ** 45), shared(2 ** 46), {"events": []})[0]
    assert not diagnose.cells_agree(probe, shared(2 ** 45), apart, {"events": []})[0]
