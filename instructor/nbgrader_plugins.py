"""The course's nbgrader preprocessors (configured in ``nbgrader_config.py``).

``TrimOutputs`` (autograde, after execution): megabytes of printed output are cut to a readable size.

``HideHiddenTests`` (generate_feedback): students never see hidden tests. ``autograde`` restores the locked test cells from the gradebook, hidden tests included, and
nbgrader's feedback renders the autograded notebook as it is — hidden test source and the
tracebacks that quote it would reach the student. This preprocessor removes the hidden region from every grade cell and shortens the error
output of such a cell to its last line (``AssertionError: <the test's message>``).
"""
from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Integer

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


class TrimOutputs(NbGraderPreprocessor):
    """Cap the text of every output after execution (nbgrader's LimitOutput counts lines only, so one
    10 MB line would pass it). Keeps the start and the end of an over-long text."""

    max_chars = Integer(20000, help="Most characters kept in one output").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and len(output.text) > self.max_chars:
                output.text = self._trim(output.text)
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, str) and len(value) > self.max_chars:
                    output.data[mime] = self._trim(value)
        return cell, resources

    def _trim(self, text: str) -> str:
        half = self.max_chars // 2
        return f"{text[:half]}\n... [{len(text) - 2 * half} characters cut by the autograder] ...\n{text[-half:]}"
