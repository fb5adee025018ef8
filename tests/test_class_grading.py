"""Grading a class from the attacker's side.

One class of assignment 1 holds three honest controls (the reference solution, the blank
release, one wrong function) and, for every kind of attack found against the grader, several
hostile submissions. Each hostile notebook must score exactly what its honest code deserves,
every control and classmate must keep its exact score, the course's files and the class
gradebook must be unchanged except for the grades, and the run must end with a row for every
student in scores.csv.
"""

import copy
import csv
import hashlib
import os
import re
from html import unescape

import nbformat
import pytest
from browser import chromium, needs_chromium, what_ran

from course import assignments
from course.assignments import REPO_ROOT
from course.grading import nbgrader_course, sandbox
from course.grading.classroom import FORMULA_STARTS, Row, grade_class, write_csv
from course.grading.limits import Limits

A1 = assignments.get("C4W1A1_conv_step_by_step")
HIDDEN_LINES = [line.strip() for cell in nbformat.read(A1.source_notebook, as_version=4).cells
                for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS",
                                        cell.source, re.S)
                for line in block.splitlines() if line.strip()]
ZERO_PAD = 10  # points of test_zero_pad

# Attacks typed into an answer cell of the BLANK release: the honest code in them is worth 0.
# Each tries to get points for functions it does not implement.
CHEATS = {
    # in-kernel tampering: the checkers, numpy, IPython
    "replaces_checkers": (
        "import utils.public_tests.conv_step_by_step as t\n"
        "for name in dir(t):\n"
        "    if name.startswith('check_'):\n"
        "        setattr(t, name, lambda *args, **kwargs: None)\n"
        "for graded in t.CHECKS.values():\n"
        "    graded.compare = lambda *args, **kwargs: None\n"),
    "replaces_the_module": (
        "import sys, types\n"
        "fake = types.ModuleType('utils.public_tests.conv_step_by_step')\n"
        "fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)\n"
        "sys.modules['utils.public_tests.conv_step_by_step'] = fake\n"),
    "answers_with_the_public_expected": (  # each case answered with the stored public answer
        "import json\n"  # of the public case with its inputs: the hidden cases still fail
        "import numpy as np\n"
        "import utils.graded as g\n"
        "import utils.public_tests.conv_step_by_step as t\n"
        "stored = json.loads(g.public_answers_path(t.__name__).read_text())['answers']\n"
        "def same(a, b):\n"
        "    if isinstance(a, dict):\n"
        "        return isinstance(b, dict) and a.keys() == b.keys() and all(\n"
        "            same(a[k], b[k]) for k in a)\n"
        "    return bool(np.array_equal(a, b))\n"
        "def copied(graded):\n"
        "    cases = [json.loads(key.split(' ', 1)[1]) for key in stored\n"
        "             if key.split(' ', 1)[0] == graded.name]\n"
        "    def call(fn, inputs):\n"
        "        case = next((c for c in cases if same(graded.inputs(**c), inputs)), cases[0])\n"
        "        return g.public_answer(graded, case)\n"
        "    return call\n"
        "for graded in t.CHECKS.values():\n"
        "    graded.call = copied(graded)\n"),
    "patches_numpy": (
        "import numpy as np\n"
        "np.allclose = np.array_equal = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"),
    "ndarray_subclass": (
        "import numpy as np\n"
        "class Always(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return np.ones(self.shape, bool)\n"
        "    __ne__ = lambda self, other: np.zeros(self.shape, bool)\n"
        "def zero_pad(X, pad):\n"
        "    return np.zeros((1,)).view(Always)\n"),
    "input_transformer": (
        "ip = get_ipython()\n"
        "ip.input_transformers_post.append(\n"
        "    lambda lines: ['print(\"all public tests passed\")\\n'])\n"),
    "custom_exception_handler": (
        "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n"),
    "post_run_cell_clears_errors": (
        "def forget(result):\n"
        "    result.error_in_exec = None\n"
        "get_ipython().events.register('post_run_cell', forget)\n"),
    "fakes_the_verdict": (
        "import base64, json\n"
        "print('zero_pad: all 5 tests passed (2 public, 3 hidden), checked by the grader')\n"
        "import utils.graded as g\n"
        "def run_cases(namespace):\n"
        "    count = len(g.ask_grader({'cases': True})['cases']['cases'])\n"
        "    g.ask_grader({'results': [{'outputs': g.encode({'passed': True})}] * count})\n"
        "g.run_cases = run_cases\n"),
    # reference code within reach
    "uses_the_reference": (  # finds the solutions anywhere it can and runs them
        "import json, os, subprocess\n"
        "texts = []\n"
        "paths = []\n"
        "for top in (REPO, os.path.dirname(REPO), CLASS, '/tmp', '/root', '/home', '/srv'):\n"
        "    for folder, subfolders, files in os.walk(top):\n"
        "        subfolders[:] = [d for d in subfolders if d not in ('.venv', 'versions')]\n"
        "        paths += [os.path.join(folder, f) for f in files\n"
        "                  if f.endswith(('.ipynb', '.py', '.json'))]\n"
        "for path in paths:\n"
        "    try:\n"
        "        texts.append(open(path, errors='ignore').read())\n"
        "    except OSError:\n"
        "        pass\n"
        "texts.append(subprocess.run(['git', '-C', REPO, 'show', 'HEAD:source_release/source/"
        "C4W1A1_conv_step_by_step/conv_step_by_step.ipynb'], capture_output=True,\n"
        "                            text=True).stdout)\n"
        "for text in texts:\n"
        "    if '### BEGIN SOLUTION' in text and text.lstrip().startswith('{'):\n"
        "        for cell in json.loads(text)['cells']:\n"
        "            if cell.get('metadata', {}).get('nbgrader', {}).get('solution'):\n"
        "                exec(''.join(cell['source']), globals())\n"),
    "floods_metadata_and_display_updates": (  # 22 MB past a 4 MB output cap
        "from IPython.display import display\n"
        "handle = display({'text/plain': 'x'}, raw=True, display_id=True)\n"
        "for i in range(8):\n"
        "    handle.update({'text/plain': 'y' * 2 ** 20}, raw=True,\n"
        "                  metadata={'text/plain': {'pad': 'z' * 2 ** 20}})\n"
        "display({'text/plain': 'w'}, raw=True,\n"
        "        metadata={'text/plain': {'pad': 'm' * 6 * 2 ** 20}})\n"),
    "one_output_message_of_40_mb": (  # over the kernel client's message limit: dropped
        "import sys\n"
        "sys.stdout.write('\\U0001F600' * 10_000_000)\n"
        "sys.stdout.flush()\n"),
    "prints_the_history": (  # hidden tests must never have run in the kernel
        "for line in get_ipython().history_manager.get_range_by_str('1-999'):\n"
        "    print(line)\n"),
}

# Attacks added to the REFERENCE solution (after its zero_pad, in the same cell), as (code, a
# condition that is true when the attack worked). When it worked, the notebook throws its own
# zero_pad away, so a sandbox that does not hold costs 10 points and fails the test.
SABOTAGE = {
    # the sandbox from inside
    "unmounts_everything": (
        "import os, subprocess\n"
        "points = [line.split()[4] for line in open('/proc/self/mountinfo')]\n"
        "for point in reversed(points):\n"
        "    subprocess.run(['umount', '-l', point], capture_output=True)\n",
        "os.path.exists(CLASS + '/submitted') or os.path.exists(REPO + '/.git')"),
    "edits_classmates_and_config": (
        "import glob, os\n"
        "written = []\n"
        "for pattern in [CLASS + '/**/*.ipynb', CLASS + '/**/gradebook.db',\n"
        "                CLASS + '/**/nbgrader_config.py', REPO + '/source_release/*.py']:\n"
        "    for path in glob.glob(pattern, recursive=True):\n"
        "        try:\n"
        "            open(path, 'a').write('\\nc.Exploited = True\\n')\n"
        "            written.append(path)\n"
        "        except OSError:\n"
        "            pass\n",
        "written"),
    "marks_classmates_timed_out": (
        "import os\n"
        "marked = []\n"
        "for folder in set(os.environ.values()) | {'/tmp', os.getcwd(), CLASS}:\n"
        "    for who in ('good', 'blank', 'wrong_zero_pad'):\n"
        "        for name in (f'timeout-{who}', f'{who}.jsonl'):\n"
        "            try:\n"
        "                with open(os.path.join(folder, name), 'w') as f:\n"
        "                    f.write('{\"limit\": \"wall time\", \"message\": \"\", '\n"
        "                            '\"cwd\": \"\"}\\n')\n"
        "                marked.append(folder)\n"
        "            except OSError:\n"
        "                pass\n",
        "[f for f in marked if not f.startswith(('/tmp', '/dev/shm', os.getcwd()))]"),
    "leaves_links_and_fifos": (
        "import os\n"
        "os.symlink(REPO + '/source_release/source', 'source_link')\n"
        "os.symlink('/nonexistent', 'dangling')\n"
        "os.mkfifo('fifo')\n",
        "False"),
    "opens_network": (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('198.51.100.7', 80), timeout=5)\n"
        "    reached = True\n"
        "except OSError:\n"
        "    reached = False\n",
        "reached"),
    "sees_other_processes": (
        "import os\n"
        "others = [p for p in os.listdir('/proc') if p.isdigit()\n"
        "          and 'nbgrader' in open(f'/proc/{p}/cmdline', errors='ignore').read()]\n",
        "others"),
    # one submission must not stop the class
    "floods_stdout": ("for _ in range(300000):\n    print('x' * 200)\n", "False"),
    "infinite_loop": ("while True:\n    pass\n", "False"),
}
# Attacks that take the whole kernel down with the cell that holds them: that cell (the
# student's zero_pad) is lost, and nothing else.
KILLERS = {
    "kills_every_process": (
        "import os, signal\n"
        "for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"),
    "three_processes_of_memory": (
        "import subprocess, sys\n"
        "code = 'b = bytearray(1200 * 2 ** 20); b[::4096] = b\"x\" * len(b[::4096]); "
        "import time; time.sleep(30)'\n"
        "children = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(3)]\n"
        "[c.wait() for c in children]\n"),
    "fork_bomb": (
        "import os, time\n"
        "while True:\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"),
    "fills_the_disk": (
        "import os\n"
        "block = bytes(100 * 2 ** 20)\n"
        "for folder in ('.', '/tmp', '/dev/shm'):\n"
        "    for i in range(10):\n"
        "        with open(os.path.join(folder, f'big{i}'), 'wb') as f:\n"
        "            f.write(block)\n"),
}

# Attacks on the student's own graded function: it is that function's loss alone.
BROKEN_FUNCTION = {
    "exits_inside_zero_pad": "def zero_pad(X, pad):\n    import os\n    os._exit(3)\n",
}

# Outputs and Markdown that would run in the browser of whoever opens the feedback page: each
# sets window.pwned (tests/test_feedback_safety.py opens the page and finds it unset).
HOSTILE_OUTPUTS = (
    "from IPython.display import HTML, Javascript, Markdown, SVG, display\n"
    "display(HTML('<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">'))\n"
    "display(Javascript('window.pwned = 3'))\n"
    "display(Markdown('<img src=x onerror=\"window.pwned = 4\">'))\n"
    "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.pwned = 5\"/>'))\n"
    "print('<script>window.pwned = 6</script>')\n")
HOSTILE_MARKDOWN = ("<script>window.pwned = 7</script><img src=x onerror=\"window.pwned = 8\">"
                    "<a href=\"javascript:window.pwned = 9\">a link</a>")

# student: (total, text the status must contain)
EXPECTED = {
    "hostile_outputs": (100, "graded"),
    "good": (100, "graded"),
    "blank": (0, "errors in cells: test_zero_pad (NotImplementedError)"),
    "wrong_zero_pad": (90, "errors in cells: test_zero_pad (AssertionError)"),
    **{name: (0, "graded (errors in cells: ") for name in CHEATS},
    **{name: (100, "graded") for name in SABOTAGE},
    "infinite_loop": (100, "zero_pad (CellTimeoutError)"),
    "kills_every_process": (90, "zero_pad (DeadKernelError)"),
    "three_processes_of_memory": (90, "limits hit: memory"),
    "fork_bomb": (90, "limits hit: processes"),
    "fills_the_disk": (100, "limits hit: disk"),
    "exits_inside_zero_pad": (90, "test_zero_pad (DeadKernelError)"),
    "answer_cell_marked_graded": (100, "nbgrader metadata changed (ignored): zero_pad"),
    "duplicate_and_foreign_ids": (100, "nbgrader metadata changed (ignored)"),
    "test_cells_not_graded": (100, "nbgrader metadata changed (ignored)"),
    "edited_test_cell": (100, "edited test cells (restored from the gradebook): test_conv_forward"),
    "deleted_test_cell": (100, "deleted cells: test_conv_forward"),
    "deleted_answer_cell": (80, "deleted cells: pool_forward"),
    "syntax_error": (90, "errors in cells: zero_pad (SyntaxError)"),
    "slow_notebook": (None, "timeout: the notebook ran over 120 s"),
    "corrupt_json": (None, "corrupt notebook: NotJSONError"),
    "wrong_assignment": (None, "unknown assignment 'C4W9A9_no_such_assignment'"),
    "notebook_links_to_source": (None, "refused: a symbolic link"),
    "folder_links_to_classmate": (None, "refused: a symbolic link"),
    "links_to_root_only_file": (None, "refused: a symbolic link"),
    "dangling_link": (None, "refused: a symbolic link"),
    "fifo_notebook": (None, "refused: not a regular file"),
}


def _with_metadata(nb, edit):
    nb = copy.deepcopy(nb)
    edit(nb.cells)
    return nb


def _grade_ids(cells):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in cells}


def _tamper_answer_graded(cells):
    _grade_ids(cells)["zero_pad"].metadata.nbgrader.update(grade=True, points=1000)


def _tamper_ids(cells):
    cells.append(copy.deepcopy(_grade_ids(cells)["test_zero_pad"]))
    extra = nbformat.v4.new_code_cell("print('bonus')")
    extra.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "points": 500,
                                  "solution": False, "locked": False, "schema_version": 3}
    cells.append(extra)


def _tamper_tests(cells):
    for cell in cells:
        info = cell.metadata.get("nbgrader", {})
        if info.get("grade"):
            info.update(grade=False, solution=True)


def _fingerprint(*folders):
    """sha256 of every file under ``folders`` (the course's own files must not change)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    if missing := sandbox.check():
        pytest.skip("the grading sandbox needs: " + "; ".join(missing))
    root = tmp_path_factory.mktemp("class")
    submitted = root / "submitted"
    source = nbformat.read(A1.source_notebook, as_version=4)
    release_nb = nbformat.read(A1.release_notebook, as_version=4)
    answers = nbgrader_course.reference_answers(source)
    wrong = "def zero_pad(X, pad):\n    return X"
    notebooks = {"good": nbgrader_course.solved_submission(source, release_nb),
                 "blank": release_nb,
                 "wrong_zero_pad": nbgrader_course.solved_submission(source, release_nb,
                                                             {"zero_pad": wrong})}

    def fill(code):
        return code.replace("CLASS", repr(str(root))).replace("REPO", repr(str(REPO_ROOT)))

    for name, code in CHEATS.items():
        blank = copy.deepcopy(release_nb)
        cell = _grade_ids(blank.cells)["zero_pad"]
        cell.source = fill(code) + "\n" + cell.source
        notebooks[name] = blank
    for name, (code, worked) in SABOTAGE.items():
        attack = f"{code}\nif {worked}:\n    zero_pad = None  # the attack worked\n"
        notebooks[name] = nbgrader_course.solved_submission(
            source, release_nb, {"zero_pad": answers["zero_pad"] + "\n\n" + fill(attack)})
    for name, code in KILLERS.items():
        notebooks[name] = nbgrader_course.solved_submission(
            source, release_nb, {"zero_pad": answers["zero_pad"] + "\n\n" + fill(code)})
    for name, code in BROKEN_FUNCTION.items():
        notebooks[name] = nbgrader_course.solved_submission(source, release_nb, {"zero_pad": code})
    notebooks["syntax_error"] = nbgrader_course.solved_submission(
        source, release_nb, {"zero_pad": "def broken(:\n    pass\n\n" + answers["zero_pad"]})
    notebooks["slow_notebook"] = nbgrader_course.solved_submission(  # 8 cells of 20 s: over 120 s
        source, release_nb, {k: v + "\n\nimport time\ntime.sleep(20)" for k, v in answers.items()})
    notebooks["hostile_outputs"] = nbgrader_course.solved_submission(
        source, release_nb, {"zero_pad": answers["zero_pad"] + "\n\n" + HOSTILE_OUTPUTS})
    notebooks["hostile_outputs"].cells.insert(0, nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN))
    good = notebooks["good"]
    notebooks["answer_cell_marked_graded"] = _with_metadata(good, _tamper_answer_graded)
    notebooks["duplicate_and_foreign_ids"] = _with_metadata(good, _tamper_ids)
    notebooks["test_cells_not_graded"] = _with_metadata(good, _tamper_tests)
    edited = copy.deepcopy(good)
    _grade_ids(edited.cells)["test_conv_forward"].source = "print('all tests passed')"
    notebooks["edited_test_cell"] = edited
    for grade_id, name in (("test_conv_forward", "deleted_test_cell"),
                           ("pool_forward", "deleted_answer_cell")):
        nb = copy.deepcopy(good)
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                    != grade_id]
        notebooks[name] = nb
    for student, nb in notebooks.items():
        folder = submitted / student / A1.id
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / A1.notebook)
    (submitted / "corrupt_json" / A1.id).mkdir(parents=True)
    (submitted / "corrupt_json" / A1.id / A1.notebook).write_text('{"cells": [')
    (submitted / "wrong_assignment" / "C4W9A9_no_such_assignment").mkdir(parents=True)
    nbformat.write(good, submitted / "wrong_assignment" / "C4W9A9_no_such_assignment" /
                   A1.notebook)
    secret = root / "root_only.ipynb"
    secret.write_text('{"secret": "do not echo me"}')
    os.chmod(secret, 0o600)
    for name, target in (("notebook_links_to_source", A1.source_notebook),
                         ("links_to_root_only_file", secret),
                         ("dangling_link", root / "nowhere.ipynb")):
        (submitted / name / A1.id).mkdir(parents=True)
        (submitted / name / A1.id / A1.notebook).symlink_to(target)
    (submitted / "folder_links_to_classmate").mkdir()
    (submitted / "folder_links_to_classmate" / A1.id).symlink_to(submitted / "good" / A1.id)
    (submitted / "fifo_notebook" / A1.id).mkdir(parents=True)
    os.mkfifo(submitted / "fifo_notebook" / A1.id / A1.notebook)
    before = _fingerprint(REPO_ROOT / "source_release", REPO_ROOT / "utils")
    rows = grade_class(submitted, root / "out", limits=Limits(
        cell_timeout=30, notebook_timeout=120, memory_mb=3072, disk_mb=512, max_processes=256))
    with open(root / "out" / "scores.csv") as handle:
        table = {row["student"]: row for row in csv.DictReader(handle)}
    return {"root": root, "rows": rows, "table": table, "course": root / "out" / "course",
            "fingerprint": (before, _fingerprint(REPO_ROOT / "source_release",
                                                 REPO_ROOT / "utils"))}


def test_every_submission_has_a_row(graded_class):
    assert set(graded_class["table"]) == set(EXPECTED)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_score_and_status(graded_class, student):
    total, status = EXPECTED[student]
    row = graded_class["table"][student]
    assert status in row["status"], row["status"]
    assert row["total"] == ("" if total is None else f"{float(total)}"), row
    if status == "graded":
        assert row["status"] == "graded", row["status"]
    assert "do not echo me" not in row["status"]


def test_course_files_are_unchanged(graded_class):
    before, after = graded_class["fingerprint"]
    assert before == after, "a submission changed the course's own files"
    config = (graded_class["course"] / "nbgrader_config.py").read_text()
    assert "Exploited" not in config


def test_gradebook_holds_every_grade_and_clean_feedback(graded_class):
    scores = {s.student: s for s in nbgrader_course.read_scores(
        graded_class["course"], A1, sorted(EXPECTED))}
    for student, (total, _) in EXPECTED.items():
        if total is None:
            assert scores[student].status == "not graded", student
            continue
        assert scores[student].total[0] == total, student
        feedback = graded_class["course"] / "feedback" / student / A1.id
        assert sorted(p.name for p in feedback.iterdir()) == ["conv_step_by_step.html"], student
        html = (feedback / "conv_step_by_step.html").read_text()
        assert "zero_pad" in html and "BEGIN HIDDEN TESTS" not in html, student
        text = unescape(re.sub(r"<[^>]*>", "", html))  # the page as read: no highlighting tags
        assert "check_zero_pad(zero_pad)" in text
        for hidden_line in HIDDEN_LINES:
            assert hidden_line not in text, (student, hidden_line)
    for path in (graded_class["course"] / "autograded").rglob("*"):
        assert not path.is_symlink() and (path.is_dir() or path.is_file()), path


def test_outputs_are_capped_with_their_metadata_and_display_updates(graded_class):
    path = (graded_class["course"] / "autograded" / "floods_metadata_and_display_updates" /
            A1.id / A1.notebook)
    assert path.stat().st_size < 5 * 2 ** 20
    assert "[output cut: this cell printed more than 4,000,000 characters]" in path.read_text()


def test_scores_csv_holds_no_formula_a_spreadsheet_would_run(tmp_path):
    """OWASP's CSV injection: a cell starting with = + - @, a tab or a carriage return."""
    hostile = ['=HYPERLINK("http://example.invalid","x")', "@SUM(1,2)", "+1+2", "-2+3",
               "\t=1+1", "\r=1+1", "\n=1+1", "\x0b=1+1", " =1+1", "\xa0=1+1", "\uff1d1+1"]
    rows = [Row(name, "", None, name) for name in hostile]
    rows.append(Row("x;=1+2;", "", None, "y;=cmd|' /C calc'!A0"))
    score = nbgrader_course.Score("good", A1.id, {"test_zero_pad": (10.0, 10.0)})
    rows.append(Row("good", A1.id, score, "graded", 1.25))
    write_csv(rows, tmp_path / "scores.csv")
    with open(tmp_path / "scores.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    cells = [cell for row in table for cell in row.values()]
    assert not [cell for cell in cells if cell.lstrip().startswith(FORMULA_STARTS)], cells
    assert [row["student"].replace("'", "") for row in table[:-1]] == [
        name.replace("'", "") for name in [*hostile, "x;=1+2;"]]  # marked, not changed
    for text in ("\n", "\r"):  # a spreadsheet that misreads the quotes starts a row there
        lines = [c for cell in cells for c in cell.split(text)]
        assert not [c for c in lines if c.lstrip().startswith(FORMULA_STARTS)], lines
    with open(tmp_path / "scores.csv", newline="") as handle:  # a semicolon-locale spreadsheet
        fields = [cell for row in csv.reader(handle, delimiter=";") for cell in row]
    assert not [cell for cell in fields if cell.lstrip().startswith(FORMULA_STARTS)], fields
    assert table[-1] == {"student": "good", "assignment": A1.id, "test_zero_pad": "10.0",
                         "required": "10.0", "extra": "0", "total": "10.0", "seconds": "1.2",
                         "status": "graded"}


@needs_chromium
def test_a_hostile_submissions_feedback_runs_nothing_in_a_browser(graded_class):
    page = (graded_class["course"] / "feedback" / "hostile_outputs" / A1.id /
            "conv_step_by_step.html")
    with chromium() as browser:
        ran = what_ran(browser, page)
    assert ran["pwned"] is None and not ran["dialogs"], ran["pwned"]
    assert not ran["jquery"], "the page's own scripts ran: its Content-Security-Policy is missing"
    assert "window.pwned = 1" in ran["text"] and "Score" in ran["text"]


def test_a_file_over_the_return_limit_is_a_note_not_a_crash(tmp_path, monkeypatch):
    """An autograded notebook too large to return is left out and said so; the class goes on
    (its status is built without the missing file)."""
    from course.grading import classroom, worker

    folder = tmp_path / "autograded" / "big" / A1.id
    folder.mkdir(parents=True)
    (folder / A1.notebook).write_bytes(b"x" * 2048)
    (folder / "link.html").symlink_to(folder / A1.notebook)
    monkeypatch.setattr(worker, "MAX_RETURNED_BYTES", 1024)
    files, left_out = worker._regular_files(tmp_path, A1.id, "big")
    assert files == {}
    assert sorted(left_out) == [f"autograded/{A1.notebook} (0 MiB, over the 0 MiB returned)",
                                "autograded/link.html (not a regular file)"]
    outcome = worker.Outcome(worker.Ending.GRADED,
                                     grades={"test_zero_pad": (10.0, None, None)},
                                     left_out=left_out)
    score = nbgrader_course.Score("big", A1.id, {"test_zero_pad": (10.0, 10.0)})
    status, final, _ = classroom._status(outcome, (), score, tmp_path / "missing.ipynb",
                                          Limits())
    assert status.startswith("graded (files not kept: ")
    assert f"autograded/{A1.notebook} (0 MiB, over the 0 MiB returned)" in status
    assert final


def test_a_kernel_that_cannot_import_the_helpers_is_not_graded_but_graded_again(tmp_path):
    """The imports cell is the release's and runs first: when it fails, the grader's
    environment failed, and the submission is not graded (and not final), never 0."""
    from course.grading import classroom
    from course.grading.worker import Ending, Outcome

    nb = nbformat.read(A1.release_notebook, as_version=4)
    imports = next(c for c in nb.cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    imports.outputs = [nbformat.v4.new_output(
        "error", ename="ModuleNotFoundError", evalue="No module named 'utils'", traceback=[])]
    nbformat.write(nb, tmp_path / A1.notebook)
    score = nbgrader_course.Score("student", A1.id, status="graded")
    status, final, graded = classroom._status(Outcome(Ending.GRADED), (), score,
                                                  tmp_path / A1.notebook, Limits())
    assert status.startswith("not graded: the grader's environment could not run the "
                             "notebook's imports (ModuleNotFoundError: No module named 'utils')")
    assert not final and not graded
