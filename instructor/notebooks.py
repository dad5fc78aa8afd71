"""Reading, normalizing and stamping the course's notebooks (nbformat only, no kernels)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from course_utils import course_info

from .harness import stamp_cells

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"

# What `make tidy` rewrites from course_utils/course_info.py.
PIP_LINE = re.compile(r'^COURSE_PIP = "[^"]*"', re.M)
BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
                   r"\(https://colab\.research\.google\.com/github/[^)]*\)")


def labs(root: Path = ROOT) -> list[str]:
    """Lab ids, sorted: every ``source/<lab>/<lab>.ipynb``."""
    return sorted(p.parent.name for p in (root / "source").glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def source_notebook(lab: str, root: Path = ROOT) -> Path:
    return root / "source" / lab / f"{lab}.ipynb"


def papermill_parameters(source: str) -> str:
    """The parameters cell in the form papermill parses: one ``=`` per assignment line.

    papermill reads a parameters cell line by line and gives up on a line with more than one ``=``
    ("Unable to parse line"), so ``FULL = dict(epochs=30, ...)`` is rewritten as the equal dict
    literal ``FULL = {"epochs": 30, ...}`` (values and trailing comments kept as written). Then
    ``papermill --help-notebook`` lists every knob and ``-p``/``-y QUICK ...`` overrides are known
    parameters. Other lines are left alone.
    """
    lines = []
    for line in source.split("\n"):
        try:
            body = ast.parse(line).body
        except SyntaxError:
            body = []
        node = body[0] if len(body) == 1 else None
        call = getattr(node, "value", None)
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "dict"
                and not call.args and all(k.arg for k in call.keywords)):
            items = ", ".join(f'"{k.arg}": {ast.get_source_segment(line, k.value)}' for k in call.keywords)
            line = f"{node.targets[0].id} = {{{items}}}{line[node.end_col_offset:]}"
        lines.append(line)
    return "\n".join(lines)


def normalized(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The committed form of a source notebook: no outputs, no execution counts, no run metadata,
    the parameters cell in papermill's parseable form (:func:`papermill_parameters`).

    Cell ids, tags and nbgrader metadata are kept; so are the kernelspec and language info.
    """
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = papermill_parameters(cell.source)
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    for key in ("papermill", "widgets", "colab", "accelerator"):
        nb.metadata.pop(key, None)
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    """nbformat's own JSON layout (one line per source line), so diffs stay readable."""
    return nbformat.writes(nb) + "\n"


def stamped(nb: nbformat.NotebookNode, lab: str) -> nbformat.NotebookNode:
    """Rewrite the setup cell's install line and the Colab badge from course_info, and the harness cells
    from course_utils/testing (:mod:`instructor.harness`)."""
    nb = stamp_cells(nbformat.from_dict(nb), lab)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = PIP_LINE.sub(f'COURSE_PIP = "{course_info.pip_spec()}"', cell.source)
        else:
            cell.source = BADGE.sub(course_info.colab_badge(lab), cell.source)
    return nb


def stamped_readme(text: str) -> str:
    """README with every Colab badge pointing at the configured repository (lab taken from the link)."""
    def badge(match):
        lab = re.search(r"/release/([^/]+)/", match.group(0))
        return course_info.colab_badge(lab.group(1)) if lab else match.group(0)
    return BADGE.sub(badge, text)


def tidy_sources(root: Path = ROOT) -> list[Path]:
    """Normalize and stamp every source notebook and the README in place; return what changed."""
    changed = []
    readme = root / "README.md"
    text = readme.read_text() if readme.exists() else ""
    if stamped_readme(text) != text:
        readme.write_text(stamped_readme(text))
        changed.append(readme)
    for lab in labs(root):
        path = source_notebook(lab, root)
        text = path.read_text()
        new = dumps(stamped(normalized(nbformat.reads(text, as_version=4)), lab))
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def parameter_tables(lab: str, root: Path = ROOT) -> dict:
    """The FULL and QUICK dicts of a lab's parameters cell, read without running it (tuples kept)."""
    nb = nbformat.read(source_notebook(lab, root), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    found = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id in ("FULL", "QUICK"):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


def as_parameter(table: dict) -> dict:
    """A FULL/QUICK dict as papermill can inject it: tuples become lists (papermill writes a tuple as a string)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in table.items()}
