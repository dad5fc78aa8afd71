"""nbgrader preprocessor for ``generate_feedback``: students never see hidden tests.

``autograde`` restores the locked test cells from the gradebook, hidden tests included, and
nbgrader's feedback renders the autograded notebook as it is — hidden test source and the
tracebacks that quote it would reach the student. This preprocessor (configured in
``nbgrader_config.py``) removes the hidden region from every grade cell and shortens the error
output of such a cell to its last line (``AssertionError: <the test's message>``).
"""
from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests

HIDDEN_NOTE = "# (hidden tests ran here; their code is not shown)"


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden test regions and the tracebacks that would quote them."""

    def preprocess_cell(self, cell, resources, cell_index):
        grade_cell = cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
        if grade_cell and self._remove_hidden_test_region(cell):
            cell.source = cell.source.rstrip("\n") + "\n" + HIDDEN_NOTE
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
