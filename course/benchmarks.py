"""Benchmarks (not tests): ``python -m course benchmark NAME``.

grading: a synthetic class (20 of assignment 1 by default) graded by grade-class and by
serial nbgrader, and where one submission's time goes.
yolo: YOLO detectors and yolo_eval on CPU.
conv: the same convolution with the reference loops of assignment 1, the im2col version of
utils.conv_fast and tf.nn.conv2d, on one input; prints the median times and the ratios.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np

from course import assignments
from course.authoring import release
from course.execution import QUIET_TENSORFLOW, execute_notebook, nbgrader
from course.grading import classroom
from course.grading import nbgrader_course as course_grading
from course.trusted.reference_solution import reference_functions
from utils.conv_fast import conv_forward_fast


def _median_seconds(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def conv(repeats: int = 5, shape=(16, 32, 32, 3), filters=(3, 3, 3, 16), stride=1, pad=1) -> dict:
    """Time loops vs im2col vs tf.nn.conv2d on one float32 input; print and return the times (s)."""
    os.environ.update(QUIET_TENSORFLOW)
    import tensorflow as tf

    rng = np.random.default_rng(0)
    A = rng.standard_normal(shape).astype(np.float32)
    W = rng.standard_normal(filters).astype(np.float32)
    b = rng.standard_normal((1, 1, 1, filters[3])).astype(np.float32)
    conv_forward = reference_functions("C4W1A1_conv_step_by_step", ["conv_forward"])["conv_forward"]
    W_tf = tf.constant(W)
    tf_padded = tf.constant(np.pad(A, ((0, 0), (pad, pad), (pad, pad), (0, 0))))

    def run_tf():
        return (tf.nn.conv2d(tf_padded, W_tf, strides=stride, padding="VALID") + b).numpy()

    expected = conv_forward_fast(A, W, b, stride, pad)
    assert np.allclose(run_tf(), expected, atol=1e-3), "tf.nn.conv2d disagrees with im2col"
    times = {
        "loops (assignment 1 reference)": _median_seconds(
            lambda: conv_forward(A, W, b, {"stride": stride, "pad": pad}), max(1, repeats // 5)),
        "im2col (utils.conv_fast)": _median_seconds(
            lambda: conv_forward_fast(A, W, b, stride, pad), repeats),
        "tf.nn.conv2d": _median_seconds(run_tf, repeats),
    }
    print(f"convolution of {shape} with {filters} filters, stride {stride}, pad {pad}, float32, "
          f"{os.cpu_count()} CPU cores")
    fastest = min(times.values())
    for name, seconds in times.items():
        print(f"  {name:32s} {seconds * 1000:10.2f} ms   {seconds / fastest:8.1f} x the fastest")
    return times


def yolo(repeats: int = 5) -> dict:
    """Detector latency on CPU and the time of yolo_eval alone; print and return the times (s).

    YOLOv2 (608x608) is timed with untrained weights (its published weights are not needed to
    time the arithmetic); YOLOv3-tiny (416x416) with its published weights when available.
    yolo_eval is the reference solution on the YOLOv2 output of one image.
    """
    os.environ.update(QUIET_TENSORFLOW)
    import tensorflow as tf

    from utils import darknet, data
    from utils import yolo as yolo_helpers

    yolo_eval = reference_functions("C4W3A1_car_detection", ["yolo_eval"])["yolo_eval"]
    yolov2, heads = darknet.build_model(darknet.parse_cfg(darknet.yolov2_cfg()), name="yolov2")
    image = np.random.default_rng(0).uniform(0, 1, (1, 608, 608, 3)).astype(np.float32)
    forward = tf.function(lambda x: yolov2(x, training=False))
    features = forward(image)
    times = {"YOLOv2 608x608 forward (untrained weights)": _median_seconds(
        lambda: forward(image).numpy(), repeats)}
    anchors = yolo_helpers.read_anchors(heads[0]["anchors"]) / 19.0
    outputs = yolo_helpers.yolo_head(features, anchors, 80)
    times["yolo_eval on YOLOv2's 19x19x5 boxes"] = _median_seconds(
        lambda: yolo_eval(outputs, (720, 1280), score_threshold=0.05), repeats)
    try:
        detector = yolo_helpers.load_yolov3_tiny()
        small = image[:, :416, :416]
        detector.outputs(small)
        times["YOLOv3-tiny 416x416 forward + decoding"] = _median_seconds(
            lambda: detector.outputs(small), repeats)
    except data.DataFileError as error:
        print(f"YOLOv3-tiny not timed: {error}")
    for name, seconds in times.items():
        print(f"{name:45s} {seconds * 1000:9.1f} ms")
    return times


def _cpu() -> float:
    """CPU seconds (user + system) used so far by this process and its finished children."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def _synthetic_class(a: assignments.Assignment, students: int) -> dict:
    """{student: notebook}: 4 in 10 solved, 3 in 10 with one function returning nothing,
    3 in 10 blank."""
    source = nbformat.read(a.source_notebook, as_version=4)
    release_nb = nbformat.read(a.release_notebook, as_version=4)
    answers = course_grading.reference_answers(source)
    names = list(answers)
    class_ = {}
    for i in range(students):
        if i % 10 < 4:
            class_[f"student{i:02d}"] = course_grading.solved_submission(source, release_nb)
        elif i % 10 < 7:  # one function returns nothing
            name = names[i % len(names)]
            header = re.search(r"def \w+\(.*?\):", answers[name], re.S).group(0)
            class_[f"student{i:02d}"] = course_grading.solved_submission(
                source, release_nb, {name: f"{header}\n    return None"})
        else:
            class_[f"student{i:02d}"] = release_nb
    return class_


_TIMES = re.compile(r"(Grading times: |\[grading_worker\] )(.*)")
_STEP = re.compile(r"([a-z][a-z ]+) (\d+\.\d+) s")


def _steps(logs: Path) -> dict[str, list[float]]:
    """{step: [seconds per submission]} from the grading logs' time lines."""
    steps: dict[str, list[float]] = {}
    for log in sorted(logs.glob("*/*.log")):
        for line in log.read_text().splitlines():
            if match := _TIMES.search(line):
                for step, seconds in _STEP.findall(match.group(2)):
                    steps.setdefault(step.strip(), []).append(float(seconds))
    return steps


# The class sizes of `benchmark grading`: 20 submissions of the numpy assignment, 10 of the
# TensorFlow ones.
CLASS_SIZES = {"C4W1A1_conv_step_by_step": 20}
DEFAULT_CLASS_SIZE = 10
# The steps of a submission's time on a worker, as the grading logs name them.
STEPS = ("kernel start", "imports", "answer cells", "other cells", "graded functions",
         "kernel end", "autograde", "feedback", "scratch course", "results")


def grading(assignment_id: str = "C4W1A1_conv_step_by_step", students: int | None = None
            ) -> dict:
    """A synthetic class of ``assignment_id`` (correct, partly wrong and blank submissions;
    ``CLASS_SIZES``) graded by ``grade-class`` (Dask local cluster, sandboxed, demonstrations
    skipped) and by serial ``nbgrader autograde`` + ``generate_feedback`` running every cell as
    nbgrader would, on the same machine, after one run of the solved notebook alone (nbclient,
    plain kernel, public tests included). Prints the wall times, the cores kept busy, the
    speed-up and where a submission's time goes on a worker (from the grading logs); returns
    {"times": {name: s}, "speed-up": x, "steps": {step: median s}, "beyond": s beyond the
    graded functions}. ``grade-class`` runs twice, with its fork server (the default) and
    without (a new interpreter per kernel, which imports its libraries itself)."""
    a = assignments.get(assignment_id)
    students = students or CLASS_SIZES.get(a.id, DEFAULT_CLASS_SIZE)
    class_ = _synthetic_class(a, students)
    times, cpu = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for student, nb in class_.items():
            folder = scratch / "submitted" / student / a.id
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / a.notebook)
        solved = class_["student00"]
        start = time.perf_counter()
        execute_notebook(solved, a.source_notebook.parent)
        own = time.perf_counter() - start
        for fork_server in (True, False):
            out = scratch / f"parallel-{fork_server}"
            start, cpu_start = time.perf_counter(), _cpu()
            classroom.grade_class(scratch / "submitted", out, progress=False,
                                  fork_server=fork_server)
            name = (f"grade-class, local Dask cluster of {os.cpu_count()} workers, sandboxed"
                    + ("" if fork_server else ", no fork server"))
            times[name], cpu[name] = time.perf_counter() - start, _cpu() - cpu_start
        steps = _steps(scratch / "parallel-True" / "logs")
        course = release.new_course(scratch / "serial", [a])
        with open(course / "nbgrader_config.py", "a") as config:
            config.write("\n# The baseline runs every cell, as plain nbgrader does\n"
                         "c.TrustedExecute.skip_demonstrations = False\n")
        shutil.copytree(scratch / "submitted", course / "submitted")
        start, cpu_start = time.perf_counter(), _cpu()
        nbgrader(["autograde", a.id, "--create", "--force"], course)
        nbgrader(["generate_feedback", a.id, "--force"], course)
        name = "nbgrader autograde + generate_feedback, serial, every cell"
        times[name], cpu[name] = time.perf_counter() - start, _cpu() - cpu_start
    print(f"{students} submissions of {a.id}; the solved notebook alone runs in {own:.1f} s "
          "(nbclient, plain kernel)")
    for name, seconds in times.items():
        print(f"  {name:60s} {seconds:6.1f} s wall, {cpu[name] / seconds:.2f} cores busy, "
              f"{seconds / students:5.2f} s per submission")
    parallel, without_fork_server, serial = times.values()
    print(f"  speed-up: {serial / parallel:.2f}x (without the fork server: "
          f"{serial / without_fork_server:.2f}x)")
    median = {step: float(np.median(values)) for step, values in steps.items()}
    print("  one submission on a grading worker (median seconds):")
    for step in [s for s in STEPS if s in median] + [s for s in median if s not in STEPS]:
        print(f"    {step:20s} {median[step]:6.2f}")
    task = sum(median.get(step, 0) for step in ("scratch course", "autograde", "feedback",
                                                 "results"))
    beyond = task - median.get("graded functions", 0)
    allowed = median.get("kernel start", 0) + median.get("imports", 0) + 1
    print(f"  per submission on a worker: {task:.2f} s, of which {beyond:.2f} s beyond the graded "
          f"functions (target: at most kernel start + imports + 1 s = {allowed:.2f} s)")
    return {"times": times, "speed-up": serial / parallel, "steps": median, "beyond": beyond}


def _grading_in(connection, assignment_id: str) -> None:
    connection.send(grading(assignment_id))


def grading_all() -> dict:
    """``grading`` for every assignment, each in a new process (as ``grade-class`` grades a
    class: nothing a class started, such as the processes its workers are forked from, serves
    the next), then one line each: the speed-up and the time beyond the graded functions."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = {}
    for a in assignments.available():
        receiving, sending = context.Pipe(duplex=False)
        process = context.Process(target=_grading_in, args=(sending, a.id))
        process.start()
        sending.close()
        results[a.id] = receiving.recv()
        process.join()
    print("\nassignment                      speed-up  beyond graded functions  kernel start + "
          "imports")
    for assignment_id, result in results.items():
        m = result["steps"]
        print(f"{assignment_id:32s} {result['speed-up']:6.2f}x  {result['beyond']:10.2f} s  "
              f"{m.get('kernel start', 0) + m.get('imports', 0):16.2f} s")
    return results
