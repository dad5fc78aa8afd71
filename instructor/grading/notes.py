"""What the stages say about a submission: a :class:`Note` is its English text (for the instructor, the
report and ``grading.log``) with a stable ``code`` beside it (for programs and tests, which must not
depend on the wording). The codes:

======================  ==================================================================  =========
code                    meaning                                                             stage
======================  ==================================================================  =========
renamed                 a lone "Copy of …" / "… (1)" notebook renamed to the lab's name     intake
no-notebook             no notebook in the submission folder (unreadable)                   intake
format-repaired         ids or schema repaired                                              intake
duplicated-cells        duplicated cells, the last copy counts                              intake
locked-restored         deleted locked cells put back                                       intake
type-restored           a cell's type changed back                                          intake
metadata-dropped        nbgrader metadata without grade_id ignored                          intake
locked-edited           edited locked cells restored to the release                         intake
answer-deleted          solution cells deleted (their tests fail)                           scan
review                  a static finding for the instructor's review (no score depends)     scan
from-scratch            an exercise reaches the built-in it is asked to reimplement         scan
kernel-died             the kernel died in a cell; that cell was skipped                    run
kernel-died-in-checks   the kernel died while the grader's checks ran                       run
checks-unusable         the probe reported nothing usable for some exercises                run
cell-time-limit         a cell hit its time limit                                           run
memory-limit            a cell hit the memory limit                                         run
======================  ==================================================================  =========
"""
from __future__ import annotations

CODES = ("renamed", "no-notebook", "format-repaired", "duplicated-cells", "locked-restored", "type-restored",
         "metadata-dropped", "locked-edited", "answer-deleted", "review", "from-scratch", "kernel-died",
         "kernel-died-in-checks", "checks-unusable", "cell-time-limit", "memory-limit")


class Note(str):
    """A note's text, as a ``str`` (it joins, prints and goes into JSON as text), and its ``code``."""

    def __new__(cls, text: str, code: str = ""):
        if code and code not in CODES:
            raise ValueError(f"unknown note code {code!r}; the codes are {', '.join(CODES)}")
        note = super().__new__(cls, text)
        note.code = code
        return note

    def as_pair(self) -> list[str]:
        return [self.code, str(self)]


def note(code: str, text: str) -> Note:
    return Note(text, code)


def from_state(entry) -> Note:
    """A note as ``grading-state.json`` keeps it ([code, text]); a plain string from an older state: no code."""
    if isinstance(entry, (list, tuple)) and len(entry) == 2:
        return Note(str(entry[1]), entry[0] if entry[0] in CODES else "")
    return Note(str(entry))


def codes(notes) -> list[str]:
    """The codes of ``notes`` in order (an uncoded note: "")."""
    return [getattr(n, "code", "") for n in notes]
