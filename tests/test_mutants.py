"""The mutant library: every plausible wrong implementation in tests/mutants/<lab>.py loses points.

Each lab's mutants run in one kernel through the lab's real grade cells (hidden tests included),
scored by nbgrader's own rule (see instructor/mutants.py). The per-lab table is printed at the end
of the test run.
"""
import pytest

from instructor import mutants
from instructor.notebooks import labs


def test_every_lab_has_a_mutant_library():
    missing = sorted(set(labs()) - set(mutants.mutant_labs()))
    assert not missing, f"labs without tests/mutants/<lab>.py: {missing}"
    stray = sorted(set(mutants.mutant_labs()) - set(labs()))
    assert not stray, f"mutant files for labs that do not exist: {stray}"


@pytest.mark.parametrize("lab", sorted(set(mutants.mutant_labs()) & set(labs())))
def test_every_mutant_loses_points(lab, record_property):
    defined = mutants.load_mutants(lab)
    blocks = mutants.exercises(mutants.nbformat.read(mutants.source_notebook(lab), as_version=4))
    untested = sorted(set(blocks) - {m.cell for m in defined})
    assert not untested, f"{lab}: exercises without a mutant: {untested}"
    results = mutants.run_lab(lab, defined)
    record_property("mutant_table", mutants.table({lab: results}))
    survivors = [f"{r.exercise}: {r.mutant.name} scored {r.score:g}/{r.max_score:g}" for r in results if not r.caught]
    assert not survivors, f"{lab}: mutants that keep full marks:\n" + "\n".join(survivors)
