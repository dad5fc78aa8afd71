"""``python -m instructor <step>``: the course pipeline (see README, section Instructors)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import pipeline
from .console import console, failed, quiet
from .notebooks import ROOT, labs, tidy_sources

say = console.say
# Steps that start kernels or nbgrader: their console holds only the instructor's lines (and the
# grading progress bar); everything else goes to build/logs/<step>.log (instructor/console.py).
QUIET_STEPS = ("course", "execute", "references", "release", "collect", "class", "grade")


def report(run) -> None:
    """The grade table and the summary of a :class:`~instructor.grading.GradingRun`."""
    say(pipeline.grade_table(run.grades))
    say(pipeline.summary(run.grades, run.outcomes, seconds=run.seconds, ran=run.ran, problems=run.catalogue_problems))


# The Limits a grading step can be given on the command line (the rest: --no-isolation, and threads from
# --workers); the options and their defaults are generated from the dataclass, the one place they live.
LIMIT_OPTIONS = {"notebook_seconds": "the whole notebook's time limit, seconds",
                 "cell_seconds": "one cell's time limit, seconds",
                 "memory_mb": "the kernel's address space, MiB",
                 "file_mb": "the largest file the kernel may write, MiB"}


def add_limit_options(parser) -> None:
    import dataclasses

    defaults = pipeline.Limits()
    types = {f.name: f.type for f in dataclasses.fields(defaults)}
    for name, text in LIMIT_OPTIONS.items():
        default = getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=float if "float" in str(types[name]) else int,
                            default=default, help=f"{text} (default: {default:g})")


def limits_from(args) -> "pipeline.Limits":
    return pipeline.Limits(isolate=not args.no_isolation, **{name: getattr(args, name) for name in LIMIT_OPTIONS})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor", description=__doc__)
    sub = parser.add_subparsers(dest="step", required=True)

    def add(name, help_text):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--labs", nargs="*", default=None, help="lab ids (default: every lab in source/)")
        return p

    p = add("course", "the main job: execute solutions, release, grade the demo class")
    p.add_argument("--mode", choices=("quick", "full"), default="quick")
    p = add("execute", "run the solution notebooks with papermill into build/executed/")
    p.add_argument("--mode", choices=("quick", "full"), default="quick")
    add("references", "run the labs that write cross-framework reference artifacts into course_utils/references/")
    add("release", "nbgrader generate_assignment: source/ -> release/")
    p = add("collect", "an LMS download for one lab (its zip file or a folder) -> submitted/")
    p.add_argument("downloads", type=Path)
    p = add("class", "an LMS download for one lab (its zip file or a folder) -> collected, graded, feedback, "
                     "grades.csv, LMS import files, summary")
    p.add_argument("downloads", type=Path)
    grading = [p, add("grade", "autograde every submission (in parallel, resumable), feedback, grades.csv, "
                               "class report, summary (nothing is lost)")]
    for g in grading:
        g.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="submissions graded at once on a local Dask cluster (default: every core)")
        g.add_argument("--scheduler", default=None,
                       help="address of an existing Dask scheduler (tcp://host:8786) to grade on instead")
        g.add_argument("--no-resume", action="store_true", help="grade everything again, even unchanged files")
        add_limit_options(g)
        g.add_argument("--no-isolation", action="store_true",
                       help="run submissions without the bubblewrap sandbox (only for code you trust)")
        g.add_argument("--no-diagnosis", action="store_true",
                       help="do not name mistakes from the catalogue (tests/mutants/) in feedback and reports")
        g.add_argument("--lms", choices=("canvas", "moodle"), default=None,
                       help="write this LMS's grade import file and feedback bundle into lms/ "
                            "(default: the LMS the download came from, detected from its file names)")
    add("autograde", "plain nbgrader autograde of submitted/ (quick mode, limits from nbgrader_config.py)")
    add("feedback", "feedback/ HTML for every graded submission")
    p = add("export", "grades.csv, the grade table and the LMS's import files (lms/)")
    p.add_argument("--lms", choices=("canvas", "moodle"), default=None,
                   help="the LMS to write import files for (default: detected from the collected download)")
    add("mutants", "grade every mutant of tests/mutants/<lab>.py through the lab's grade cells; print the table")
    add("diagnosis", "hand in every entry of tests/mutants/<lab>.py and diagnose it against the catalogue; "
                     "print the confusion table")
    p = add("colab-check", "every solution notebook (quick mode, hidden tests) on Colab's versions (colab/*.txt)")
    p.add_argument("--runtime", nargs="*", default=None, help="runtimes of colab/ (default: all)")
    add("tidy", "strip outputs from source notebooks and stamp repository address into setup cells and badges")
    args = parser.parse_args(argv)
    chosen = args.labs or labs()
    if args.step not in QUIET_STEPS:
        return run(args, chosen, parser)
    with quiet(args.step):
        mode = f" in {args.mode} mode" if hasattr(args, "mode") else ""
        say(f"{args.step}{mode}: {len(chosen)} lab(s); everything but this summary goes to {console.where()}")
        try:
            return run(args, chosen, parser)
        except Exception as err:  # noqa: BLE001  the traceback goes to the log, one line to the terminal
            return failed(args.step, err)


def execute(lab: str, mode: str, extra: dict | None = None) -> None:
    """Run one solution notebook; one console line (name, time); stop the step if a cell fails."""
    import papermill

    try:
        seconds = pipeline.execute(lab, mode, extra_parameters=extra)
    except papermill.PapermillExecutionError as err:
        failed(f"executing {lab}", err)
        raise SystemExit(1) from None
    say(f"executed {lab:28s} {seconds:6.1f} s")


def execute_step(args, chosen, parser) -> int:
    """course / execute: run the solution notebooks; course goes on to release and the demo class."""
    for lab in chosen:
        execute(lab, args.mode, pipeline.reference_parameters(lab, pipeline.BUILD / "references"))
    if args.step == "execute":
        say(f"executed notebooks: {(pipeline.BUILD / 'executed').relative_to(ROOT)}/")
        return 0
    release_step(args, chosen, parser)
    demo = pipeline.BUILD / "demo_class"
    start = time.perf_counter()
    pipeline.build_demo_class(demo, chosen)
    run = pipeline.grade_class(demo, chosen, workers=os.cpu_count() or 1, progress=console.stream)
    say(f"\nDemo class graded in {time.perf_counter() - start:.1f} s "
        f"(students: {', '.join(pipeline.DEMO_STUDENTS)})\n")
    report(run)
    say(f"\nfeedback: {(demo / 'feedback').relative_to(ROOT)}/  grades: {(demo / 'grades.csv').relative_to(ROOT)}"
        f"  grading log: {(demo / 'grading.log').relative_to(ROOT)}  console log: {console.where()}")
    return 0


def references_step(args, chosen, parser) -> int:
    for lab in chosen:
        if pipeline.reference_parameters(lab, Path("unused")):
            execute(lab, "quick")  # REFERENCE_DIR stays None: the notebook writes to course_utils/references/
    return 0


def release_step(args, chosen, parser) -> int:
    for notebook in pipeline.release(ROOT, chosen):
        say(f"released {notebook.relative_to(ROOT)}")
    return 0


def collect_step(args, chosen, parser) -> int:
    """collect / class: the LMS download into submitted/; class goes on to grade."""
    if len(chosen) != 1:
        parser.error(f"{args.step} needs exactly one lab: --labs <lab>")
    if chosen[0] not in labs():
        console.error(f"error: unknown lab {chosen[0]!r}; the labs are: {', '.join(labs())}")
        return 2
    if not args.downloads.exists():
        console.error(f"error: no such download {str(args.downloads)!r}: give the LMS's zip file "
                      "(Canvas submissions.zip, Moodle's download) or the folder holding it")
        return 2
    say(pipeline.collect(args.downloads, chosen[0]).summary())
    return 0 if args.step == "collect" else grade_step(args, chosen, parser)


def grade_step(args, chosen, parser) -> int:
    try:
        run = pipeline.grade_class(ROOT, chosen, workers=args.workers, scheduler=args.scheduler,
                                   progress=console.stream, limits=limits_from(args), resume=not args.no_resume,
                                   lms_name=args.lms, diagnosis=not args.no_diagnosis)
    except pipeline.CourseError as err:
        console.error(f"error: {err}")
        return 2
    report(run)
    say(f"feedback/, grades.csv and class_report.html (+ score_histogram.png) written; details in grading.log "
        f"and {console.where()}")
    for path in sorted((ROOT / "lms").glob("*")) if (ROOT / "lms").is_dir() else []:
        if path.name != "roster.json":
            say(f"for the LMS: {path.relative_to(ROOT)}")
    return 0


def export_step(args, chosen, parser) -> int:
    from . import lms

    lms.name_students(ROOT)
    print(f"wrote {pipeline.export(ROOT)}")
    rows = pipeline.grades(ROOT)
    for path in lms.export(ROOT, args.labs or sorted({g.lab for g in rows}), rows, args.lms):
        print(f"wrote {path.relative_to(ROOT)}")
    print()
    print(pipeline.grade_table(rows))
    return 0


def mutants_step(args, chosen, parser) -> int:
    from . import mutants

    results = {}
    for lab in chosen:
        start = time.perf_counter()
        results[lab] = mutants.run_lab(lab)
        print(f"  {lab:28s} {len(results[lab]):3d} mutants in {time.perf_counter() - start:6.1f} s", flush=True)
    print(mutants.table(results))
    return 0 if all(r.caught for rs in results.values() for r in rs) else 1


def diagnosis_step(args, chosen, parser) -> int:
    from . import mutants

    qualities = []
    for lab in chosen:
        start = time.perf_counter()
        qualities.append(mutants.diagnose_lab(lab))
        print(f"  {lab:28s} {len(qualities[-1].results):3d} entries in {time.perf_counter() - start:6.1f} s "
              f"(catalogue {qualities[-1].seconds:.1f} s)", flush=True)
    print(mutants.quality_table(qualities))
    totals = [q.counts() for q in qualities]
    share = sum(c["self"] for c in totals) / max(1, sum(c["mistakes"] for c in totals))
    return 0 if share >= 0.9 and not any(c["correct_diagnosed"] for c in totals) else 1


def colab_check_step(args, chosen, parser) -> int:
    from . import colab_check

    return colab_check.main(args.runtime, args.labs, say=lambda line: print(line, flush=True))


def tidy_step(args, chosen, parser) -> int:
    for path in tidy_sources():
        print(f"tidied {path.relative_to(ROOT)}")
    return 0


STEPS = {"course": execute_step, "execute": execute_step, "references": references_step, "release": release_step,
         "collect": collect_step, "class": collect_step, "grade": grade_step,
         "autograde": lambda args, chosen, parser: max(pipeline.autograde(lab).returncode for lab in chosen),
         "feedback": lambda args, chosen, parser: max(pipeline.feedback(lab).returncode for lab in chosen),
         "export": export_step, "mutants": mutants_step, "diagnosis": diagnosis_step,
         "colab-check": colab_check_step, "tidy": tidy_step}


def run(args, chosen, parser) -> int:
    return STEPS[args.step](args, chosen, parser)


if __name__ == "__main__":
    sys.exit(main())
