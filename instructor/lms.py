"""LMS in, LMS out: a Canvas or Moodle download -> ``submitted/``; grades and feedback -> files the LMS imports.

**In.** ``collect(downloads, lab, root)`` takes what the instructor downloaded: the LMS's zip file itself
or a folder (holding zips, per-student folders or loose files, zips inside zips). Each notebook's owner
is read from the first path component, from the top, that follows an LMS naming scheme:

* Canvas: ``<name>_<user id>_<file id>_<original name>``, ``<name>_LATE_<user id>_<file id>_<…>`` (late);
* Moodle: ``<Full Name>_<participant id>_assignsubmission_file_<original name>``, as a file or a folder;
* anything else ("unknown scheme"): the part before the first ``_`` of the student's folder or file.

The LMS id is the one thing that tells two students of the same name apart, so it is part of the
student id (``doejane-1001``, ``jane-doe-1001``) and kept, with the name as the LMS wrote it and the
lateness, in ``lms/roster.json``. One notebook per student is graded: the newest (Canvas file id, then
the archive's timestamp); the others are listed. Nothing here stops the class: an unreadable zip, a file
of an unknown scheme whose owner cannot be told, or two files claiming one student are reported
(:class:`Collected`), and every other submission is collected.

**Out.** ``export(root, labs)`` writes, next to nbgrader's ``grades.csv``, for the LMS of the roster
(or the one asked for):

* Canvas: ``lms/canvas-grades.csv`` (Gradebook → Import: ``Student, ID, SIS User ID, SIS Login ID,
  Section``, a ``Points Possible`` row, one column per lab) and ``lms/canvas-feedback/<lab>/<name>_<id>/``
  (one folder per student holding the feedback HTML);
* Moodle: per lab, ``lms/moodle-<lab>-grades.csv`` (the assignment's offline grading worksheet:
  ``Identifier`` = ``Participant <id>``, ``Grade``, ...) and ``lms/moodle-<lab>-feedback.zip`` (for "Upload
  multiple feedback files in a zip": each file under the participant's own download folder name).

Nothing here runs student code; archives are read with sizes, depth and member paths checked.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .course import CourseFolder

ROSTER = Path("lms") / "roster.json"
LMS_NAMES = ("canvas", "moodle")
MAX_DEPTH = 3                   # zips inside zips inside the download
MAX_UNPACKED = 4 * 1024 ** 3    # bytes one download may unpack to (a zip bomb stops here)

CANVAS = re.compile(r"^(?P<name>[^_]+)_(?P<late>late_)?(?P<id>\d+)_(?P<file>\d+)_(?P<rest>.*)$", re.I)
MOODLE = re.compile(r"^(?P<name>[^_]+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class Participant:
    """Who handed a file in, as the LMS named it."""

    lms: str                # "canvas", "moodle" or "unknown"
    name: str               # as the LMS wrote it: "doejane", "Jane Doe"
    lms_id: str = ""        # Canvas user id / Moodle participant id ("" for an unknown scheme)
    late: bool = False      # Canvas's LATE
    file_id: int = -1       # Canvas file id: a later upload has a larger one
    prefix: str = ""        # the participant's path component as downloaded (Moodle's feedback zip uses it)

    @property
    def student_id(self) -> str:
        return "-".join(filter(None, (slug(self.name), self.lms_id))) or self.lms_id


def parse_component(component: str) -> Participant | None:
    """One path component -> its participant when it follows Canvas's or Moodle's naming, else None."""
    match = MOODLE.match(component)
    if match:
        return Participant("moodle", match["name"], match["id"], prefix=component if not match["rest"]
                           else component[: len(component) - len(match["rest"])])
    match = CANVAS.match(component)
    if match and slug(match["name"]):
        return Participant("canvas", match["name"], match["id"], bool(match["late"]), int(match["file"]),
                           prefix=component[: len(component) - len(match["rest"])])
    return None


def owner_of(parts: tuple[str, ...], lab: str = "", guess: bool = True) -> Participant | None:
    """The participant of a file at ``parts`` (path components below the download, the file last).

    With no LMS naming in ``parts`` and ``guess``, the owner is the student's folder (the last one with a
    '_') or the file name, before its first '_' -- unless that holds the lab's id ("Copy of pt01_…": no owner).
    """
    for component in parts:
        found = parse_component(component)
        if found:
            return found
    if not guess:
        return None
    owner = parts[-2] if len(parts) >= 2 and "_" in parts[-2] else parts[-1]
    name = owner.split("_", 1)[0]
    if not slug(name) or (lab and lab.lower().split("_", 1)[0] in name.lower()):
        return None
    return Participant("unknown", name, prefix=owner)


# ------------------------------------------------------------------------------------- unpacking
def _safe_members(zf: zipfile.ZipFile) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """Regular files whose paths stay inside the archive; the others, with the reason."""
    keep, refused = [], []
    for info in zf.infolist():
        if info.is_dir():
            continue
        path = PurePosixPath(info.filename.replace("\\", "/"))
        mode = info.external_attr >> 16
        if path.is_absolute() or ".." in path.parts or not path.parts:
            refused.append(f"{info.filename}: path leaves the archive")
        elif mode and (mode & 0o170000) not in (0, 0o100000):
            refused.append(f"{info.filename}: not a regular file (link or device)")
        else:
            keep.append(info)
    return keep, refused


def unpack(source: Path, target: Path, problems: list[str], depth: int = 0, budget: list[int] | None = None) -> None:
    """Copy a download (folder or zip) into ``target``, unpacking every zip into a folder of its name."""
    budget = budget if budget is not None else [MAX_UNPACKED]
    if source.is_symlink():
        problems.append(f"{source.name}: a link, not followed")
        return
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for child in sorted(source.iterdir()):
            unpack(child, target / child.name, problems, depth, budget)
        return
    if source.suffix.lower() != ".zip":
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return
    if depth >= MAX_DEPTH:
        problems.append(f"{source.name}: zip nested more than {MAX_DEPTH} deep, not opened")
        return
    folder = target.with_suffix("")
    scratch = folder.parent / f".{folder.name}.unzipped"
    try:
        with zipfile.ZipFile(source) as zf:
            members, refused = _safe_members(zf)
            problems.extend(f"{source.name}/{line}" for line in refused)
            size = sum(m.file_size for m in members)
            if size > budget[0]:
                problems.append(f"{source.name}: unpacks to {size / 1e9:.1f} GB, more than the download may; not opened")
                return
            budget[0] -= size
            for info in members:
                out = scratch.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.utime(out, (_zip_time(info), _zip_time(info)))
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError) as err:
        shutil.rmtree(scratch, ignore_errors=True)  # nothing of a half-read archive is collected
        problems.append(f"{source.name}: not a readable zip archive ({type(err).__name__}: {err}); "
                        "download it again from the LMS")
        return
    unpack(scratch, folder, problems, depth + 1, budget)
    shutil.rmtree(scratch, ignore_errors=True)


def _zip_time(info: zipfile.ZipInfo) -> float:
    import datetime

    try:
        return datetime.datetime(*info.date_time).timestamp()
    except ValueError:
        return 0.0


# ------------------------------------------------------------------------------------- collecting
@dataclass
class Collected:
    """What one collect did: who was collected from which file, and everything passed over."""

    lab: str
    students: dict = field(default_factory=dict)     # student id -> the file collected (relative path)
    skipped: list = field(default_factory=list)      # one line per file or archive not collected, with why
    notes: list = field(default_factory=list)        # one line per thing worth a look (several files, late)
    lms: str = "unknown"

    def summary(self) -> str:
        late = sum(1 for line in self.notes if line.endswith("(late)"))
        lines = [f"collected {len(self.students)} submission(s) of {self.lab} from a {self.lms} download"
                 f" into submitted/ ({len(self.skipped)} file(s) skipped, {late} late)"]
        lines += [f"  SKIPPED {line}" for line in self.skipped]
        lines += [f"  NOTE {line}" for line in self.notes]
        return "\n".join(lines)


def _newest(entries: list[tuple[Participant, Path, str]], lab: str):
    """The notebook to grade among one student's: named after the lab first, then the newest upload."""
    return max(entries, key=lambda e: (lab in e[1].name, e[0].file_id, e[1].stat().st_mtime, e[2]))


def collect(downloads: Path, lab: str, root: Path) -> Collected:
    """Copy one lab's LMS download into ``root/submitted/<student>/<lab>/<lab>.ipynb``; see the module doc."""
    downloads = Path(downloads)
    if not downloads.exists():
        raise FileNotFoundError(f"no such download: {downloads} (give the LMS's zip file or the folder holding it)")
    unpacked = root / "downloaded" / lab / "unpacked"   # rewritten by every collect of this lab
    result = Collected(lab)
    with tempfile.TemporaryDirectory(prefix="lms-download-") as keep:
        source = downloads
        inside = unpacked.resolve() == downloads.resolve() or unpacked.resolve() in downloads.resolve().parents
        if inside:  # the download lies in the folder collect rewrites: work from a copy, put it back after
            source = Path(keep) / downloads.name
            (shutil.copytree if downloads.is_dir() else shutil.copy2)(downloads, source)
        shutil.rmtree(unpacked, ignore_errors=True)
        unpack(source, unpacked / downloads.name, result.skipped)
        if inside and not downloads.exists():
            downloads.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, downloads)
    claims: dict[str, list] = {}
    files = []
    for path in sorted(p for p in unpacked.rglob("*") if p.is_file()):
        rel = path.relative_to(unpacked)
        if path.suffix.lower() == ".ipynb":
            files.append((path, rel, rel.parts[1:] if len(rel.parts) > 1 else rel.parts))  # below the download
        elif not (path.name.startswith(".") or path.suffix.lower() == ".zip"):
            result.skipped.append(f"{rel.as_posix()}: not a notebook")
    # Where the download follows an LMS's naming, a notebook that does not is nobody's: never guess.
    guess = not any(owner_of(parts, guess=False) for _, _, parts in files)
    for path, rel, parts in files:
        who = owner_of(parts, lab, guess)
        if who is None:
            result.skipped.append(f"{rel.as_posix()}: cannot tell whose submission this is (its name follows "
                                  "no LMS naming); hand it to the student's folder by hand")
            continue
        claims.setdefault(who.student_id, []).append((who, path, rel.as_posix()))
    roster = load_roster(root)
    for student, entries in sorted(claims.items()):
        who, path, rel = _newest(entries, lab)
        for other in entries:
            if other[2] != rel:
                result.skipped.append(f"{other[2]}: another notebook of {student}; graded {rel!r} (newest)")
        target = CourseFolder(root).submitted(student, lab)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        shutil.copyfile(path, target)
        result.students[student] = rel
        if who.late:
            result.notes.append(f"{student}: handed in after the due date (late)")
        roster["students"][student] = {"lms": who.lms, "lms_id": who.lms_id, "name": who.name}
        roster["labs"].setdefault(lab, {})[student] = {"file": rel, "late": who.late, "prefix": who.prefix}
    result.lms = detect(roster) or "unknown"
    save_roster(root, roster)
    return result


def load_roster(root: Path) -> dict:
    try:
        data = json.loads((root / ROSTER).read_text())
        return {"students": dict(data.get("students", {})), "labs": dict(data.get("labs", {}))}
    except (OSError, ValueError, AttributeError):
        return {"students": {}, "labs": {}}


def save_roster(root: Path, roster: dict) -> None:
    path = root / ROSTER
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(roster, indent=1, sort_keys=True))
    os.replace(tmp, path)


def name_students(root: Path) -> None:
    """Put the roster's LMS names and ids into an existing gradebook, so nbgrader's own ``grades.csv``
    carries them (``last_name``/``first_name``; ``lms_user_id``)."""
    import warnings

    from nbgrader.api import Gradebook

    roster = load_roster(root)
    if not roster["students"] or not CourseFolder(root).gradebook.exists():
        return
    with warnings.catch_warnings(), Gradebook(CourseFolder(root).gradebook_url) as gb:
        warnings.simplefilter("ignore")
        for student, info in roster["students"].items():
            first, _, last = info["name"].rpartition(" ") if " " in info["name"] else ("", "", info["name"])
            gb.update_or_create_student(student, first_name=first or None, last_name=last or None,
                                        lms_user_id=info["lms_id"] or None)


# ------------------------------------------------------------------------------------- exporting
def detect(roster: dict) -> str | None:
    counts = Counter(v["lms"] for v in roster["students"].values() if v["lms"] in LMS_NAMES)
    return counts.most_common(1)[0][0] if counts else None


def export(root: Path, labs: list[str], grades: list, lms: str | None = None) -> list[Path]:
    """The LMS's grade import file(s) and feedback bundle(s) for ``labs``; returns the files written.

    ``grades`` are :class:`instructor.grading.report.Grade` rows. ``lms`` is "canvas", "moodle" or None
    (detected from the roster; nothing is written for a class that came from neither).
    """
    roster = load_roster(root)
    lms = lms if lms in LMS_NAMES else detect(roster)
    if lms is None:
        return []
    people = {s: v for s, v in roster["students"].items() if v["lms"] == lms}
    score = {(g.student, g.lab): g for g in grades}
    max_score = {g.lab: g.max_score for g in grades}
    out = root / "lms"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if lms == "canvas":
        written.append(_canvas_grades(out / "canvas-grades.csv", people, labs, score, max_score))
    for lab in labs:
        handed_in = {s: e for s, e in roster["labs"].get(lab, {}).items() if s in people}
        if lms == "moodle":
            written.append(_moodle_grades(out / f"moodle-{lab}-grades.csv", people, handed_in, lab, score, max_score))
            written.append(_moodle_feedback(root, out / f"moodle-{lab}-feedback.zip", handed_in, lab))
        else:
            written.append(_canvas_feedback(root, out / "canvas-feedback" / lab, people, handed_in, lab))
    return written


def _points(value: float) -> str:
    return f"{value:.2f}"


def _canvas_grades(path: Path, people: dict, labs: list[str], score: dict, max_score: dict) -> Path:
    """Canvas Gradebook import: students matched by ``ID`` (the user id of the download's file names)."""
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *labs])
        out.writerow(["Points Possible", "", "", "", "", *(_points(max_score.get(lab, 0)) for lab in labs)])
        for student, info in sorted(people.items(), key=lambda kv: (kv[1]["name"], kv[1]["lms_id"])):
            cells = [_points(score[(student, lab)].score) if (student, lab) in score else "" for lab in labs]
            out.writerow([info["name"], info["lms_id"], "", "", "", *cells])
    return path


def _moodle_grades(path: Path, people: dict, handed_in: dict, lab: str, score: dict, max_score: dict) -> Path:
    """Moodle's offline grading worksheet for one assignment ("Upload grading worksheet")."""
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                      "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                      "Feedback comments"])
        for student in sorted(handed_in, key=lambda s: people[s]["lms_id"]):
            grade = score.get((student, lab))
            out.writerow([f"Participant {people[student]['lms_id']}", people[student]["name"], "",
                          "Submitted for grading", _points(grade.score) if grade else "",
                          _points(max_score.get(lab, 0)), "Yes", "", "", ""])
    return path


def _feedback_file(root: Path, student: str, lab: str) -> Path | None:
    path = CourseFolder(root).feedback(student, lab)
    return path if path.is_file() and not path.is_symlink() else None


def _moodle_feedback(root: Path, path: Path, handed_in: dict, lab: str) -> Path:
    """Each feedback file under the participant's download folder name, as Moodle's zip import expects."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for student, entry in sorted(handed_in.items()):
            source = _feedback_file(root, student, lab)
            if source is not None:
                zf.write(source, f"{entry['prefix']}/{lab}_feedback.html")
    os.replace(tmp, path)
    return path


def _canvas_feedback(root: Path, folder: Path, people: dict, handed_in: dict, lab: str) -> Path:
    """One folder per student, ``<name>_<user id>``, holding the feedback HTML (attach it in SpeedGrader)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for student in sorted(handed_in):
        source = _feedback_file(root, student, lab)
        if source is not None:
            target = folder / f"{people[student]['name']}_{people[student]['lms_id']}" / f"{lab}_feedback.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return folder


def roster_rows(root: Path) -> list[dict]:
    """The roster as rows (student, lab, lms, lms_id, name, late, file), for tests and reports."""
    roster = load_roster(root)
    return [{"student": s, "lab": lab, **roster["students"].get(s, {}), **{k: v for k, v in e.items() if k != "prefix"}}
            for lab, entries in sorted(roster["labs"].items()) for s, e in sorted(entries.items())]


