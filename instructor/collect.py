"""nbgrader ``zip_collect`` plugin for submissions downloaded from an LMS.

LMS downloads name files like ``doejane_12345_67890_Copy of pt01_batchnorm.ipynb`` (Canvas) or put
them in folders like ``Jane Doe_12345_assignsubmission_file_/pt01_batchnorm (1).ipynb`` (Moodle).
Each lab is one notebook, so every ``.ipynb`` of a student is collected under the lab's canonical
notebook name whatever it was renamed to; the student id is the LMS prefix before the first ``_``
(of the folder when there is one), lower-cased with runs of other characters turned into ``-``.
"""
from __future__ import annotations

import os
import re

from nbgrader.plugins.zipcollect import FileNameCollectorPlugin
from traitlets import Unicode


def student_id_from(name: str) -> str | None:
    """``"Jane Doe_12345_assign..."`` -> ``"jane-doe"``; None when nothing usable is left."""
    prefix = name.split("_", 1)[0]
    slug = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")
    return slug or None


class LmsCollector(FileNameCollectorPlugin):
    """Collect any notebook of a student as ``notebook`` (set per lab on the command line)."""

    notebook = Unicode("", help="Canonical notebook file name of the lab, e.g. pt01_batchnorm.ipynb").tag(config=True)
    extracted_root = Unicode("", help="The zip_collect extracted directory (paths are taken relative to it)").tag(config=True)

    def collect(self, submitted_file: str):
        if os.path.splitext(submitted_file)[1] not in self.valid_ext:
            return None
        rel = os.path.relpath(submitted_file, self.extracted_root) if self.extracted_root else submitted_file
        parts = rel.split(os.sep)
        # archive.zip/<student folder>/file, <student folder>/file, or <prefix>_..._file at top level
        owner = parts[-2] if len(parts) >= 2 and "_" in parts[-2] else parts[-1]
        student = student_id_from(owner)
        if student is None:
            self.log.warning("Cannot tell whose submission this is: %s", submitted_file)
            return None
        return {"student_id": student, "file_id": self.notebook or os.path.basename(submitted_file),
                "timestamp": None}
