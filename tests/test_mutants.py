"""The mutant library: every plausible wrong implementation in tests/mutants/<lab>.py loses points.

Each lab's mutants run in one kernel through the lab's real grade cells (hidden tests included),
scored by nbgrader's own rule (see instructor/mutants.py). The per-lab table is printed at the end
of the test run.
"""
import pytest

from instructor import mutants
from instructor.course import CourseFolder
from instructor.grading import record
from instructor.notebooks import labs


def test_every_lab_has_a_mutant_library():
    missing = sorted(set(labs()) - set(mutants.mutant_labs()))
    assert not missing, f"labs without tests/mutants/<lab>.py: {missing}"
    stray = sorted(set(mutants.mutant_labs()) - set(labs()))
    assert not stray, f"mutant files for labs that do not exist: {stray}"


@pytest.mark.parametrize("lab", [pytest.param(lab, marks=pytest.mark.xdist_group(lab))
                                 for lab in sorted(set(mutants.mutant_labs()) & set(labs()))])
def test_every_mutant_loses_points_and_is_diagnosed_as_itself(lab, record_property, graded_class):
    """Each entry of the library handed in as an answer: catalogued and uncatalogued mistakes lose points,
    correct alternatives keep full marks; the diagnosis names at least 90 % of the catalogue as itself (or
    a declared equivalent) and never names a mistake for a correct answer (tests/test_diagnose.py: the
    matching itself)."""
    library = mutants.load_library(lab)
    blocks = mutants.exercises(mutants.nbformat.read(mutants.source_notebook(lab), as_version=4))
    untested = sorted(set(blocks) - {m.cell for m in library if m.role == "mistake"})
    assert not untested, f"{lab}: exercises without a mutant: {untested}"
    # the lab's classroom (graded once per session, same pytest worker) computed the solution's reference
    # and the catalogue in the grading sandbox: the same data, found in its course folder's cache
    root = graded_class(lab).root
    folder = CourseFolder(root)
    cache = folder.cache(lab, record.digest(folder.source(lab)))
    quality = mutants.diagnose_lab(lab, library, cache)
    results = quality.results
    record_property("mutant_table", mutants.table({lab: [r for r in results if r.mutant.role == "mistake"]}))
    record_property("diagnosis_table", mutants.quality_table([quality]))
    survivors = [f"{r.exercise}: {r.mutant.name} scored {r.score:g}/{r.max_score:g}" for r in results
                 if r.mutant.role != "correct" and not r.mutant.diagnosis_only and not r.caught]
    assert not survivors, f"{lab}: mutants that keep full marks:\n" + "\n".join(survivors)
    lost = [f"{r.mutant.name}: grader {r.probe_score}, notebook {r.score:g} of {r.max_score:g}" for r in results
            if r.mutant.role == "correct" and (r.caught or r.score < r.max_score)]
    assert not lost, f"{lab}: correct alternatives that lose points:\n" + "\n".join(lost)
    counts = quality.counts()
    assert counts["correct_diagnosed"] == 0
    assert counts["self"] >= 0.9 * counts["mistakes"], mutants.quality_table([quality])
