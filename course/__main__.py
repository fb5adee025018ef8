"""Course commands: ``python -m course COMMAND`` (``--help`` lists them).

fetch [ASSIGNMENT]           download (or copy from $CNN_COURSE_MIRROR) the data files, verified
release [--check]            generate source_release/release/ and notebooks/ from the sources,
                             and compile the Chinese messages (utils/locale/)
expected-outputs ASSIGNMENT  run the solution and rewrite the notebook's "Expected output" blocks
public-answers [--check]     store the reference answers of the public test cases
demo                         grade the reference solution and the blank release (grade-class)
student-release DIR [--lang zh]
                             write what a student receives (no solutions, no hidden tests)
figures [--chinese]          redraw the explanatory figures in images/ (Chinese: images/zh/)
benchmark conv               time loop vs im2col vs tf.nn.conv2d convolution
benchmark yolo               time the YOLO detectors on CPU and yolo_eval alone
benchmark grading [--assignment ID|all --students N]
                             grade a synthetic class on Dask vs serial nbgrader autograde
grade-class SUBMISSIONS      autograde a class on Dask, sandboxed: scores, feedback, gradebook
                             (again: only new or changed submissions)
site [--execute [ID ...]] [--instructor]
                             the course site: student notebooks with the stored outputs of the
                             reference solutions (or the reference solutions with hidden tests,
                             for instructors only); --execute first runs the stale (or named)
                             source notebooks in full mode and stores their outputs
train-resnet [--epochs N]    train the reference ResNet50 on SIGNS into pretrained-model/
                             (students: python -m utils.train_resnet, with their own)
translations [extract [ID]] [--check]
                             the Chinese edition's catalogues (locale/zh_CN/: the notebooks, the
                             pages, the messages of the tests and the grader): update them from
                             the English (extract; ID starts a notebook's), or say what is left
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat

from course import assignments
from course.authoring import expected_outputs, release
from course.execution import execute_notebook
from course.grading import nbgrader_course
from course.grading.limits import Limits
from utils import data


def cmd_fetch(args) -> int:
    from utils import fetch

    return fetch.main([args.assignment] if args.assignment else [])


def cmd_release(args) -> int:
    from course.translation import messages

    root = assignments.REPO_ROOT
    outputs = release.build(assignments.available(), root)
    if args.check:
        problems = release.stale(outputs, root) + messages.stale()
        for problem in problems:
            print(f"stale: {problem}")
        print("release is up to date" if not problems else
              "run `python -m course release` to regenerate")
        return 1 if problems else 0
    release.write(outputs, root)
    for path in outputs:
        print(f"wrote {path}")
    print(f"wrote {messages.write_compiled().relative_to(root)}")
    return 0


def cmd_expected_outputs(args) -> int:
    assignment = assignments.get(args.assignment)
    source = nbformat.read(assignment.source_notebook, as_version=4)
    executed = execute_notebook(source, assignment.source_notebook.parent, hidden_answers=True)
    count = expected_outputs.refresh(source, executed)
    nbformat.write(source, assignment.source_notebook)
    print(f"rewrote {count} expected-output blocks of {assignment.source_notebook}")
    return 0


def cmd_public_answers(args) -> int:
    from course.authoring import public_answers

    problems = []
    for assignment in assignments.available():
        if args.assignment and assignment.id != args.assignment:
            continue
        if args.check:
            problem = public_answers.stale(assignment)
            if problem:
                problems.append(problem)
                print(f"stale: {problem}")
        else:
            print(f"wrote {public_answers.write(assignment)}")
    if args.check:
        print("public answers are up to date" if not problems else
              "run `python -m course public-answers` to regenerate")
    return 1 if problems else 0


def cmd_demo(args) -> int:
    """Fetch the data, then grade the reference solution and the blank release of every
    assignment in a scratch folder, as a class is graded (``grade-class``: notebooks sanitised,
    kernels sandboxed, verdicts decided by the grader). Missing data is reported before grading
    and marked in the tables."""
    from course.grading import classroom, sandbox
    from utils import fetch

    available = assignments.available()
    ids = [a.id for a in available]
    entries = [e for e in data.entries_for() if set(e.assignments) & set(ids)]
    print(f"Fetching the {len(entries)} data files of the assignments into {data.course_home()}")
    missing = data.check_available(entries)
    if missing:
        print(f"\nDATA MISSING: {sum(len(g.paths) for g in missing)} files could not be had. "
              "A test that needs one of them loses its points, and its score below says so.")
        print(fetch.report(missing) + "\n")
    unsandboxed = sandbox.check()
    if unsandboxed:  # the demo grades the course's own notebooks, never a student's
        print(f"This machine cannot sandbox a kernel ({'; '.join(unsandboxed)}): the demo's "
              "notebooks, the course's own, run unsandboxed.")
    with tempfile.TemporaryDirectory() as scratch:
        for a in available:
            source = nbformat.read(a.source_notebook, as_version=4)
            release_nb = nbformat.read(a.release_notebook, as_version=4)
            reference = nbgrader_course.solved_submission(source, release_nb)
            for student, nb in (("reference", reference), ("blank", release_nb)):
                nbgrader_course.submit(Path(scratch) / "submitted", student, a, nb)
        rows = classroom.grade_class(Path(scratch) / "submitted", Path(scratch) / "graded",
                                     sandboxed=not unsandboxed)
    scores = {(r.assignment, r.student): r.score or nbgrader_course.Score(
        r.student, r.assignment, status=r.status) for r in rows}
    print("\n\n".join(nbgrader_course.format_table([scores[a.id, "reference"],
                                                    scores[a.id, "blank"]]) for a in available))
    return 0


def cmd_student_release(args) -> int:
    from course.authoring import student_release

    files = student_release.build(args.out, assignments.available(), chinese=args.lang == "zh")
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} files ({size / 1e6:.1f} MB) into {args.out}; give students this "
          f"folder (never source_release/ or the repository)")
    return 0


def cmd_figures(args) -> int:
    from course.authoring import figures
    from course.translation.notebooks import figure_labels

    written = [] if args.chinese else figures.draw()
    written += figures.draw_chinese(figure_labels(assignments.available()))
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_benchmark(args) -> int:
    from course import benchmarks

    if args.name == "grading":
        if args.assignment == "all":
            benchmarks.grading_all()
        else:
            benchmarks.grading(args.assignment or "C4W1A1_conv_step_by_step", args.students)
    else:
        getattr(benchmarks, args.name)(repeats=args.repeats)
    return 0


def cmd_grade_class(args) -> int:
    from course.grading import classroom

    limits = Limits(args.cell_timeout, args.notebook_timeout, args.memory_mb)
    try:
        rows = classroom.grade_class(
            args.submissions, args.out, args.assignment, args.workers, limits,
            sandboxed=not args.no_sandbox, scheduler=args.scheduler, students=args.student,
            regrade=args.regrade, run_demonstrations=args.run_demonstrations,
            record_folder=args.record)
    except classroom.StaleCourse as error:
        print(f"grade-class: {error}", file=sys.stderr)
        return 2
    print(classroom.summary(rows))
    print(f"wrote {Path(args.out) / 'scores.csv'}; gradebook and feedback in "
          f"{Path(args.out) / 'course'}")
    return 0


def cmd_site(args) -> int:
    import time

    from course.authoring import executions, site

    if args.execute is not None:
        chosen = ([assignments.get(i) for i in args.execute] if args.execute
                  else [a for a in assignments.available() if executions.stale(a)])
        for assignment in chosen:
            print(f"executing {assignment.id} in full mode ...", flush=True)
            start = time.perf_counter()
            stored = executions.store(assignment)
            print(f"stored {stored.relative_to(assignments.REPO_ROOT)} "
                  f"({(time.perf_counter() - start) / 60:.1f} min)", flush=True)
    try:
        if args.instructor:
            pages = site.build_instructor_site(args.out or Path("build/instructor-site"))
        else:
            timings = {}
            pages = site.build_student_site(args.out or Path("build/site"), timings=timings)
            print(f"built the English site in {timings['en']:.0f} s and the Chinese site (zh/) "
                  f"in {timings['zh']:.0f} s")
    except executions.StaleExecution as error:
        print(f"site: {error}", file=sys.stderr)
        return 2
    print(f"wrote the landing page and {len(pages) - 1} assignment pages; open {pages[0]}")
    return 0


def cmd_train_resnet(args) -> int:
    from course.execution import QUIET_TENSORFLOW
    from course.trusted.reference_solution import reference_functions
    from utils import train_resnet

    os.environ.update(QUIET_TENSORFLOW)
    train_resnet.train(reference_functions("C4W2A1_resnets", ["ResNet50"])["ResNet50"],
                       epochs=args.epochs)
    return 0


def cmd_translations(args) -> int:
    from course.translation import report

    available = assignments.available()
    if args.action == "extract":
        start = [assignments.get(i) for i in args.assignment]
        for path in report.extract(available, start):
            print(f"wrote {path.relative_to(assignments.REPO_ROOT)}")
        print("then translate the entries that are empty or fuzzy, check with `python -m course "
              "translations --check`, and run `python -m course figures` and `python -m course "
              "release`")
    elif args.assignment:
        print("translations: name assignments only with extract", file=sys.stderr)
        return 2
    found = report.reports(available)
    print(report.format_reports(found, available))
    return 1 if args.check and any(r.problems for r in found) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="fetch the course's data files")
    fetch.add_argument("assignment", nargs="?", help="only this assignment's files")
    fetch.set_defaults(run=cmd_fetch)
    rel = commands.add_parser("release", help="generate the student release")
    rel.add_argument("--check", action="store_true", help="only report stale notebooks")
    rel.set_defaults(run=cmd_release)
    exp = commands.add_parser("expected-outputs", help="refresh a notebook's expected outputs")
    exp.add_argument("assignment")
    exp.set_defaults(run=cmd_expected_outputs)
    answers = commands.add_parser("public-answers", help="store the reference answers of the "
                                  "public test cases")
    answers.add_argument("assignment", nargs="?", help="only this assignment")
    answers.add_argument("--check", action="store_true", help="only report stale files")
    answers.set_defaults(run=cmd_public_answers)
    commands.add_parser("demo", help="grade the reference solution and the blank release"
                        ).set_defaults(run=cmd_demo)
    student = commands.add_parser("student-release",
                                  help="write the student distribution into a new folder")
    student.add_argument("out", type=Path, help="a folder that does not exist yet")
    student.add_argument("--lang", choices=["en", "zh"], default="en",
                         help="zh: the Chinese edition (the translated notebooks)")
    student.set_defaults(run=cmd_student_release)
    drawing = commands.add_parser("figures", help="redraw the figures in images/ (and their "
                                                  "Chinese versions in images/zh/)")
    drawing.add_argument("--chinese", action="store_true",
                         help="only the Chinese versions of the translated notebooks' figures")
    drawing.set_defaults(run=cmd_figures)
    bench = commands.add_parser("benchmark", help="run a benchmark")
    bench.add_argument("name", choices=["conv", "yolo", "grading"])
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--assignment", help="grading: the assignment, or all (default: "
                                            "assignment 1)")
    bench.add_argument("--students", type=int, help="grading: the class's size (default: 20 "
                                                    "for assignment 1, 10 for the others)")
    bench.set_defaults(run=cmd_benchmark)
    grade = commands.add_parser("grade-class", help="autograde a class of submissions")
    grade.add_argument("submissions", type=Path,
                       help="submitted/<student>/<assignment>/ or a folder of <student>.ipynb")
    grade.add_argument("--assignment", help="the assignment id (required for <student>.ipynb)")
    grade.add_argument("--out", type=Path, default=Path("graded"), help="output folder")
    grade.add_argument("--workers", type=int,
                       help="worker processes of the local Dask cluster (default: one per core)")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on an existing Dask cluster (e.g. tcp://10.0.0.5:8786)")
    grade.add_argument("--student", action="append", metavar="ID",
                       help="grade only this student (repeat for more); the others keep their "
                            "grades")
    grade.add_argument("--regrade", action="store_true",
                       help="grade every submission again, changed or not")
    grade.add_argument("--cell-timeout", type=int, default=Limits.cell_timeout,
                       help="seconds per cell")
    grade.add_argument("--notebook-timeout", type=int, default=Limits.notebook_timeout,
                       help="seconds per notebook")
    grade.add_argument("--memory-mb", type=int, default=Limits.memory_mb,
                       help="memory cap per submission (all its processes)")
    grade.add_argument("--run-demonstrations", action="store_true",
                       help="run the demonstration cells too (the feedback shows their outputs; "
                            "grading then costs a whole run of each notebook, and training cells "
                            "need a longer --cell-timeout)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code unsandboxed (trusted code only)")
    grade.add_argument("--record", type=Path, metavar="DIR",
                       help="keep every message the grader sends into a kernel in DIR, one "
                            "JSON-lines file per submission (an audit of what kernels receive)")
    grade.set_defaults(run=cmd_grade_class)
    site = commands.add_parser("site", help="build the course site (Sphinx, MyST-NB)")
    site.add_argument("--instructor", action="store_true",
                      help="the executed reference solutions (default build/instructor-site)")
    site.add_argument("--out", type=Path, help="output folder (default build/site)")
    site.add_argument("--execute", nargs="*", metavar="ID",
                      help="first run the source notebooks whose stored outputs are stale (or "
                           "those named) in full mode and store their outputs in site/executed/")
    site.set_defaults(run=cmd_site)
    resnet = commands.add_parser("train-resnet", help="train ResNet50 on SIGNS and save it")
    resnet.add_argument("--epochs", type=int, help="default 12 (1 in fast mode)")
    resnet.set_defaults(run=cmd_train_resnet)
    translations = commands.add_parser(
        "translations", help="the Chinese edition's catalogues: extract, or say what is left")
    translations.add_argument("action", nargs="?", choices=["extract"],
                              help="update the catalogues from the English sources")
    translations.add_argument("assignment", nargs="*",
                              help="extract: also start the catalogue of these assignments")
    translations.add_argument("--check", action="store_true",
                              help="exit 1 when a text is missing, changed, fuzzy, obsolete or "
                                   "breaks a rule (code, formulas, glossary)")
    translations.set_defaults(run=cmd_translations)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
