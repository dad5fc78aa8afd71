"""LMS in and out (instructor/lms.py): Canvas and Moodle downloads built here, as the LMSs name them.

The collect and export tests need no kernel. ``test_class_from_lms_download`` grades one small Canvas
class and one Moodle class end to end (same-name students included) and checks the import files and
feedback bundles an instructor uploads.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from classroom import grade_sharing
from instructor import lms, pipeline
from instructor.grading.report import Grade

LAB = "pt01_batchnorm"
ROOT = Path(__file__).resolve().parent.parent


def notebook(tag: str) -> str:
    """A small valid notebook whose text says who made it (collect never runs it)."""
    return json.dumps({"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": tag}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def zip_of(path: Path, files: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def collected(root: Path) -> dict:
    """student -> the tag of the notebook collected for them."""
    out = {}
    for path in sorted((root / "submitted").glob(f"*/{LAB}/{LAB}.ipynb")):
        out[path.parts[-3]] = json.loads(path.read_text())["cells"][0]["source"]
    return out


@pytest.fixture
def canvas_zip(tmp_path):
    """Canvas's submissions.zip: same-name students, a late one, a resubmission, a zip inside the zip,
    a renamed notebook, a broken zip, a PDF and a file of no known scheme."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr(f"work/{LAB}.ipynb", notebook("roe zipped"))
    return zip_of(tmp_path / "submissions.zip", {
        f"doejane_1001_5001_{LAB}.ipynb": notebook("jane 1001 first"),
        f"doejane_1001_5007_{LAB}-1.ipynb": notebook("jane 1001 resubmitted"),
        f"doejane_LATE_1002_5003_Copy of {LAB}.ipynb": notebook("jane 1002 late"),
        "roeann_1003_5004_my_work.zip": inner.getvalue(),
        "smithbob_1004_5005_broken.zip": b"PK\x03\x04 this is not a zip",
        "leeamy_1005_5006_report.pdf": b"%PDF-1.4",
        f"../escape_{LAB}.ipynb": notebook("zip slip"),
        f"{LAB}.ipynb": notebook("nobody"),
    })


def test_canvas_zip_collects_every_student_apart(tmp_path, canvas_zip):
    root = tmp_path / "course"
    result = pipeline.collect(canvas_zip, LAB, root)
    assert result.lms == "canvas"
    assert collected(root) == {"doejane-1001": "jane 1001 resubmitted", "doejane-1002": "jane 1002 late",
                               "roeann-1003": "roe zipped"}
    skipped = "\n".join(result.skipped)
    assert "doejane_1001_5001" in skipped and "another notebook of doejane-1001" in skipped
    assert "smithbob_1004_5005_broken.zip: not a readable zip archive" in skipped
    assert "leeamy_1005_5006_report.pdf: not a notebook" in skipped
    assert "path leaves the archive" in skipped
    assert f"{LAB}.ipynb: cannot tell whose submission this is" in skipped
    assert not (tmp_path / f"escape_{LAB}.ipynb").exists()
    rows = {(r["student"], r["lab"]): r for r in lms.roster_rows(root)}
    assert rows[("doejane-1002", LAB)]["late"] and not rows[("doejane-1001", LAB)]["late"]
    assert {r["lms_id"] for r in rows.values()} == {"1001", "1002", "1003"}
    assert "1 late" in result.summary() and "SKIPPED" in result.summary()


def test_folder_holding_the_zip_and_loose_files(tmp_path, canvas_zip):
    """A folder of downloads works too. Beside LMS-named files, a loose file of no scheme is reported, not guessed."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    shutil.move(canvas_zip, downloads / canvas_zip.name)
    (downloads / "Jane Doe_1234_assignsubmission_file_").mkdir()
    (downloads / "Jane Doe_1234_assignsubmission_file_" / f"{LAB} (1).ipynb").write_text(notebook("moodle jane"))
    (downloads / f"roe_ann_{LAB}.ipynb").write_text(notebook("roe loose"))
    (downloads / "readme.txt").write_text("not a submission")
    root = tmp_path / "course"
    result = pipeline.collect(downloads, LAB, root)
    got = collected(root)
    assert got["jane-doe-1234"] == "moodle jane" and got["doejane-1002"] == "jane 1002 late" and "roe" not in got
    assert any(line.endswith("readme.txt: not a notebook") for line in result.skipped)
    assert any(f"roe_ann_{LAB}.ipynb: cannot tell whose" in line for line in result.skipped)


def moodle_zip(tmp_path: Path) -> Path:
    """Moodle's "Download all submissions": a folder per participant, same-name students, one flat file."""
    return zip_of(tmp_path / "PT01-12345.zip", {
        f"Jane Doe_2001_assignsubmission_file_/{LAB} (1).ipynb": notebook("jane 2001"),
        f"Jane Doe_2002_assignsubmission_file_/Copy of {LAB}.ipynb": notebook("jane 2002"),
        "Jane Doe_2002_assignsubmission_onlinetext_/onlinetext.html": "<p>see the notebook</p>",
        f"Ann Roe_2003_assignsubmission_file_{LAB}.ipynb": notebook("ann 2003"),
    })


def test_moodle_download_keeps_participant_ids(tmp_path):
    root = tmp_path / "course"
    result = pipeline.collect(moodle_zip(tmp_path), LAB, root)
    assert result.lms == "moodle"
    assert collected(root) == {"jane-doe-2001": "jane 2001", "jane-doe-2002": "jane 2002", "ann-roe-2003": "ann 2003"}
    assert any("onlinetext.html: not a notebook" in line for line in result.skipped)


def test_recollect_replaces_and_keeps_earlier_labs(tmp_path):
    """A second download of the same lab replaces the notebook; the roster keeps other labs' entries."""
    root = tmp_path / "course"
    pipeline.collect(moodle_zip(tmp_path), LAB, root)
    second = zip_of(tmp_path / "again.zip", {f"Jane Doe_2001_assignsubmission_file_/{LAB}.ipynb": notebook("newer")})
    pipeline.collect(second, "tf01_batchnorm", root)
    pipeline.collect(second, LAB, root)
    assert collected(root)["jane-doe-2001"] == "newer"
    assert {r["lab"] for r in lms.roster_rows(root)} == {LAB, "tf01_batchnorm"}


def test_download_inside_the_collect_folder_is_not_lost(tmp_path, canvas_zip):
    """An instructor who saved the zip into downloaded/<lab>/ (which collect rewrites) keeps it."""
    root = tmp_path / "course"
    for inside in (root / "downloaded" / LAB / "submissions.zip", root / "downloaded" / LAB / "unpacked" / "s.zip"):
        inside.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(canvas_zip, inside)
        pipeline.collect(inside, LAB, root)
        assert inside.exists() and "doejane-1002" in collected(root)


def test_half_readable_zip_collects_nothing_of_it(tmp_path):
    """A zip whose second member is corrupt (bad CRC) is reported whole; nothing of it is half-collected."""
    path = zip_of(tmp_path / "submissions.zip", {f"aaa_1_1_{LAB}.ipynb": notebook("first"),
                                                 f"bbb_2_2_{LAB}.ipynb": notebook("second " * 50)})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        second = zf.infolist()[1]
    at = second.header_offset + 30 + len(second.filename) + 5  # inside the second member's stored bytes
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    root = tmp_path / "course"
    result = pipeline.collect(path, LAB, root)
    assert collected(root) == {}
    assert any("submissions.zip: not a readable zip archive" in line for line in result.skipped)


def test_missing_download_says_what_to_give(tmp_path):
    with pytest.raises(FileNotFoundError, match="zip file or the folder"):
        pipeline.collect(tmp_path / "nope.zip", LAB, tmp_path / "course")


def fake_feedback(root: Path, students) -> None:
    for student in students:
        path = root / "feedback" / student / LAB / f"{LAB}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<p>feedback for {student}</p>")


def test_canvas_export_files(tmp_path, canvas_zip):
    root = tmp_path / "course"
    pipeline.collect(canvas_zip, LAB, root)
    fake_feedback(root, ["doejane-1001", "doejane-1002", "roeann-1003"])
    rows = [Grade("doejane-1001", LAB, 7, 10), Grade("doejane-1002", LAB, 3.5, 10), Grade("roeann-1003", LAB, 0, 10)]
    written = lms.export(root, [LAB], rows)
    table = list(csv.reader((root / "lms" / "canvas-grades.csv").open()))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", LAB]
    assert table[1][0] == "Points Possible" and table[1][-1] == "10.00"
    assert {(r[1], r[-1]) for r in table[2:]} == {("1001", "7.00"), ("1002", "3.50"), ("1003", "0.00")}
    bundle = root / "lms" / "canvas-feedback" / LAB
    assert sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*.html")) == [
        f"doejane_1001/{LAB}_feedback.html", f"doejane_1002/{LAB}_feedback.html", f"roeann_1003/{LAB}_feedback.html"]
    assert "doejane-1002" in (bundle / "doejane_1002" / f"{LAB}_feedback.html").read_text()
    assert bundle in written and not list((root / "lms").glob("moodle-*"))


def test_moodle_export_files(tmp_path):
    root = tmp_path / "course"
    pipeline.collect(moodle_zip(tmp_path), LAB, root)
    fake_feedback(root, ["jane-doe-2001", "jane-doe-2002", "ann-roe-2003"])
    rows = [Grade("jane-doe-2001", LAB, 10, 10), Grade("jane-doe-2002", LAB, 1, 10), Grade("ann-roe-2003", LAB, 4, 10)]
    lms.export(root, [LAB], rows)
    sheet = list(csv.DictReader((root / "lms" / f"moodle-{LAB}-grades.csv").open()))
    assert {(r["Identifier"], r["Full name"], r["Grade"], r["Maximum Grade"]) for r in sheet} == {
        ("Participant 2001", "Jane Doe", "10.00", "10.00"), ("Participant 2002", "Jane Doe", "1.00", "10.00"),
        ("Participant 2003", "Ann Roe", "4.00", "10.00")}
    with zipfile.ZipFile(root / "lms" / f"moodle-{LAB}-feedback.zip") as zf:
        names = sorted(zf.namelist())
        assert "jane-doe-2002" in zf.read(f"Jane Doe_2002_assignsubmission_file_/{LAB}_feedback.html").decode()
    assert names == [f"Ann Roe_2003_assignsubmission_file_/{LAB}_feedback.html",
                     f"Jane Doe_2001_assignsubmission_file_/{LAB}_feedback.html",
                     f"Jane Doe_2002_assignsubmission_file_/{LAB}_feedback.html"]
    for name in names:  # Moodle's importer: explode('_', path, 5) -> [name, participant id, type, plugin, file]
        parts = ("/" + name).split("_", 4)
        assert parts[1].isdigit() and parts[2:4] == ["assignsubmission", "file"]


def test_unknown_scheme_writes_no_lms_file(tmp_path):
    root = tmp_path / "course"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / f"ann_{LAB}.ipynb").write_text(notebook("ann"))
    (downloads / f"Copy of {LAB}.ipynb").write_text(notebook("whose?"))
    (downloads / "bo_b").mkdir()
    (downloads / "bo_b" / "work.ipynb").write_text(notebook("bo"))
    result = pipeline.collect(downloads, LAB, root)
    assert result.lms == "unknown" and collected(root) == {"ann": "ann", "bo": "bo"}
    assert any(f"Copy of {LAB}.ipynb: cannot tell whose" in line for line in result.skipped)
    assert lms.export(root, [LAB], [Grade("ann", LAB, 1, 10)]) == []


@pytest.mark.xdist_group("lms-class")
def test_class_from_lms_download(tmp_path):
    """Canvas zip and Moodle zip, each with two students of the same name, graded end to end."""
    root = tmp_path / "course"
    shutil.copytree(ROOT / "source" / LAB, root / "source" / LAB)
    pipeline.release(root, [LAB])
    solution = (root / "source" / LAB / f"{LAB}.ipynb").read_text()
    untouched = (root / "release" / LAB / f"{LAB}.ipynb").read_text()
    canvas = zip_of(tmp_path / "submissions.zip", {f"doejane_1001_1_{LAB}.ipynb": solution,
                                                   f"doejane_LATE_1002_2_Copy of {LAB}.ipynb": untouched})
    result = pipeline.collect(canvas, LAB, root)
    assert sorted(result.students) == ["doejane-1001", "doejane-1002"]
    run = grade_sharing(root, LAB, workers=2)
    grades = run.grades
    score = {g.student: g.score for g in grades}
    full = max(g.max_score for g in grades)
    assert score == {"doejane-1001": full, "doejane-1002": 0}
    table = list(csv.reader((root / "lms" / "canvas-grades.csv").open()))
    assert {(r[1], float(r[-1])) for r in table[2:]} == {("1001", full), ("1002", 0.0)}
    for who in ("doejane_1001", "doejane_1002"):
        assert (root / "lms" / "canvas-feedback" / LAB / who / f"{LAB}_feedback.html").stat().st_size > 0
    exported = {r["student_id"]: r for r in pipeline.read_grades_csv(root / "grades.csv")}
    assert exported["doejane-1002"]["last_name"] == "doejane"

    moodle_root = tmp_path / "moodle-course"
    shutil.copytree(root / "source", moodle_root / "source")
    moodle = zip_of(tmp_path / "moodle.zip", {f"Jane Doe_2001_assignsubmission_file_/{LAB}.ipynb": untouched,
                                              f"Jane Doe_2002_assignsubmission_file_/{LAB} (1).ipynb": solution})
    pipeline.collect(moodle, LAB, moodle_root)
    grades = grade_sharing(moodle_root, LAB, workers=2).grades
    assert {g.student: g.score for g in grades} == {"jane-doe-2001": 0, "jane-doe-2002": full}
    sheet = {r["Identifier"]: float(r["Grade"]) for r in csv.DictReader((moodle_root / "lms" / f"moodle-{LAB}-grades.csv").open())}
    assert sheet == {"Participant 2001": 0.0, "Participant 2002": full}
    with zipfile.ZipFile(moodle_root / "lms" / f"moodle-{LAB}-feedback.zip") as zf:
        assert len(zf.namelist()) == 2
