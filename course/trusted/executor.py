"""TrustedExecute: nbgrader's Execute step, with every test cell's verdict decided outside the
student's kernel.

It runs in nbgrader's own process (which never executes student code; the kernel does, in the
sandbox when class grading) and replaces ``Execute`` in ``Autograde.autograde_preprocessors``:

1. it runs the notebook's code cells in the kernel, except the test cells and the
   demonstrations (``course.grading.demo_cells``: the source notebook's cells tagged ``demo``,
   which no graded function needs; the feedback shows them with a note instead), for the
   feedback's outputs (each cell's output is capped at ``max_output_chars``);
2. for each graded function, helpers first (``cases.read``), it sends the function's public and
   hidden cases into the kernel as data and receives the answers as plain data
   (``utils.graded.run_cases``), over the kernel's input channel; a caller's helpers that
   failed their own tests are stand-ins whose calls this process answers with the reference
   (``helper_calls``), so no code of the reference ever enters the kernel;
3. it compares each answer with the reference solution's answer in this process
   (``expected.Reference``) and writes the verdict as the test cell's only output: a line on
   stdout when every case passes, an error naming the first failing case otherwise. nbgrader's
   SaveAutoGrades then gives the cell full or zero points, as for any test cell. The verdicts
   and the failures' messages are in the language of the submission's edition, the source
   notebook's ``language`` (``utils.i18n.speaking``): the Chinese bundle's sources say zh_CN.

A cell or a graded function that kills the kernel is the submission's own loss: the kernel is
started again, the cells before it are run again (their outputs kept from the first run), and
grading goes on without that cell; after ``max_kernel_starts`` starts the functions left are
not graded.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import time
from collections import Counter
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import nbformat
import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellControlSignal, CellTimeoutError, DeadKernelError
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from course.grading import demo_cells
from course.trusted import cases as cases_module
from course.trusted.helper_calls import MAX_REQUEST_CHARS, HelperCalls
from course.trusted.reference_answers import Reference
from course.trusted.failure import GraderFailure
from course.trusted.failure import record as record_failure
from course.trusted import reference_process
from course.trusted.reference_process import (RECOMPUTE_S, RecomputeRaised, ReferenceProcess,
                                              recompute_request, recomputed_facts)
from utils.graded import GradedFunction, decode, encode
from utils.i18n import ENGLISH, N_, _, ngettext, speaking

NOT_RUN_NOTE = N_("[a demonstration: not run when the notebook was graded; no graded function "
                  "needs it]\n")  # the output a demonstration cell shows in the feedback
IMPORTS_CELL = "imports"  # the grade id of every notebook's first cell
# The code the grader runs in the kernel to grade one function: the harness asks for its cases
# on the input channel (``HelperCalls``), runs them and sends the results the same way.
HARNESS = ("from utils.graded import run_cases as _grading_run_cases\n"
           "_grading_run_cases(globals())")
TERMINATED_WAIT_S = 1  # how long a terminated kernel is given to end before nbclient's shutdown
_PROCESS_SECRET = secrets.token_hex(16)  # the hidden cases' secret when none is configured
MAX_OUTPUT_MESSAGE_BYTES = 32 * 2 ** 20  # largest output message read from a kernel
UNREADABLE = "unreadable"  # the type given a message from the kernel that cannot be read
HIDDEN_VALUE = N_("(value hidden)")  # a number of a hidden case's failure message, as shown
# A decimal number, not part of a name; ASCII: a Chinese character next to it is not a letter
_DECIMAL = re.compile(r"(?<![\w.])[-+]?(?:\d*\.\d+(?:[eE][-+]?\d+)?|\d+(?:\.\d*)?[eE][-+]?\d+"
                      r"|\d+\.(?!\d)|nan|inf)(?![\w])", re.ASCII)
_ERROR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,59}$")  # an exception's name, as shown


@dataclass(frozen=True)
class _PastTimeLimit:
    """The grading harness ran past the time limit of ``seconds`` and was interrupted."""

    seconds: float | None


class _KernelDied(Exception):
    """The kernel died while running ``where``: a cell's index, or a function's tests."""

    def __init__(self, where):
        super().__init__(where)
        self.where = where


class BoundedKernelClient(AsyncKernelClient):
    """A kernel client whose sockets refuse any message larger than the grader would keep
    (ZeroMQ drops the connection before the message is read into memory): a kernel cannot make
    the grader's process hold more than ``MAX_OUTPUT_MESSAGE_BYTES`` for one output, or
    ``MAX_REQUEST_CHARS`` for one input request; a message it cannot read (nested too deeply,
    malformed, signed twice) is dropped, as one that answers nothing the grader asked."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        read = self.session.deserialize

        def readable(msg_list, content=True, copy=True):
            try:
                return read(msg_list, content=content, copy=copy)
            except (ValueError, TypeError, KeyError, RecursionError, MemoryError):
                return {"header": {}, "msg_id": "", "msg_type": UNREADABLE, "parent_header": {},
                        "metadata": {}, "content": {}, "buffers": []}

        self.session.deserialize = readable

    def _bounded(self, connect, limit: int, identity):
        self.context.setsockopt(zmq.MAXMSGSIZE, limit)  # the default of sockets made now
        try:
            return connect(identity=identity)
        finally:
            self.context.setsockopt(zmq.MAXMSGSIZE, -1)

    def connect_iopub(self, identity=None):
        return self._bounded(super().connect_iopub, MAX_OUTPUT_MESSAGE_BYTES, identity)

    def connect_shell(self, identity=None):
        return self._bounded(super().connect_shell, MAX_OUTPUT_MESSAGE_BYTES, identity)

    def connect_stdin(self, identity=None):
        return self._bounded(super().connect_stdin, MAX_REQUEST_CHARS + 2 ** 20, identity)


class TrustedExecute(Execute):
    """Execute the notebook and grade its functions from the grader's side (module docstring)."""

    source_directory = Unicode(
        "source", help="Folder of the source notebooks (with solutions and hidden tests), "
                       "relative to the course root.").tag(config=True)
    expected_cache = Unicode(
        "trusted_expected", help="Folder where the reference answers of the test cases are "
                                 "kept, relative to the course root.").tag(config=True)
    max_kernel_starts = Integer(
        10, help="How many times the kernel is started for one notebook when the student's "
                "code kills it.").tag(config=True)
    max_output_chars = Integer(
        4_000_000, help="Largest output kept per cell, in characters (a figure takes a few "
                        "hundred thousand).").tag(config=True)

    skip_demonstrations = Bool(
        True, help="Leave the source notebook's demonstration cells (tagged demo) unrun: no "
                   "graded function needs them (course/grading/demo_cells.py).").tag(config=True)

    hidden_case_secret = Unicode(
        "", help="The secret the hidden cases' seeds are drawn from (cases.read); grade-class "
                 "makes one per run. Empty: one per grading process.").tag(config=True)

    record_folder = Unicode(
        "", help="When set, a folder where every message the grader sends into a kernel is "
                 "kept, one JSON line each ({kind, text}; kind: cell (the submission's own "
                 "code), harness or reply), in <assignment>-<student>.jsonl: an audit of what "
                 "a kernel received.").tag(config=True)

    failure_file = Unicode(
        "", help="When set, the file where a failure of the grader itself (the kernel did not "
                 "start, the reference solution could not run) is recorded before nbgrader "
                 "stops on the notebook (course/trusted/failure.py).").tag(config=True)

    terminate_kernel = Bool(
        False, help="End the kernel with SIGTERM once the notebook is graded, instead of "
                    "nbgrader's shutdown request, which takes about half a second (for a "
                    "sandboxed kernel, whose processes all end with it).").tag(config=True)

    async def _async_cleanup_kernel(self) -> None:
        started = time.perf_counter()
        if self.terminate_kernel and self.km is not None and self.km.has_kernel:
            await ensure_async(self.km.signal_kernel(signal.SIGTERM))
            # its end, looked for more often than jupyter_client would (every 0.1 s); one
            # that has not ended by then gets nbclient's shutdown, as it would without this
            ends = time.monotonic() + TERMINATED_WAIT_S
            while await ensure_async(self.km.is_alive()) and time.monotonic() < ends:
                await asyncio.sleep(0.005)
        await super()._async_cleanup_kernel()
        self._timings["kernel end"] += time.perf_counter() - started

    _cleanup_kernel = run_sync(_async_cleanup_kernel)  # nbclient binds the base's otherwise

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.client_class = f"{__name__}.{BoundedKernelClient.__name__}"
        return km

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        info = resources["nbgrader"]
        source = Path(self.source_directory) / info["assignment"] / f"{info['notebook']}.ipynb"
        self._reference = Reference(source, Path(self.expected_cache) / info["assignment"])
        with speaking(self._reference.source.metadata.get("language", ENGLISH)):
            return self._grade_notebook(info)

    def _grade_notebook(self, info: dict):
        """Run the cells and grade the functions (``preprocess``, in the submission's
        language)."""
        self._tests = cases_module.read(self._reference.source,
                                        self.hidden_case_secret or _PROCESS_SECRET)
        test_cells = {t.cell_id for t in self._tests}
        demos = demo_cells.demo_ids(self._reference.source) if self.skip_demonstrations else set()
        self._output_used: dict[int, int] = {}
        self._passed: set[str] = set()  # the graded functions that passed every test
        runnable = []
        for index, cell in enumerate(self.nb.cells):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code" or grade_id in test_cells:
                continue
            if grade_id in demos:
                cell.outputs = [new_output("stream", name="stdout", text=_(NOT_RUN_NOTE))]
                cell.execution_count = None
            else:
                runnable.append(index)
        # the release's imports cell first, before any code of the submission: when it fails,
        # the grader's environment failed (course.grading.classroom.imports_failed)
        runnable.sort(key=lambda i: self.nb.cells[i].metadata.get("nbgrader", {}).get("grade_id")
                      != IMPORTS_CELL)
        self._helpers = ReferenceProcess(nbformat.writes(self._reference.source))
        self._timings: Counter[str] = Counter()  # seconds per step, for the log
        self._record_path = None
        if self.record_folder:
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{info['assignment']}-{info['student']}")
            self._record_path = Path(self.record_folder) / f"{name}.jsonl"
            self._record_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            verdicts = self._run(runnable)
        except GraderFailure as failure:
            if self.failure_file:
                record_failure(Path(self.failure_file), failure)
            raise
        finally:
            self._helpers.close()
        self.log.info("Grading times: %s", ", ".join(f"{step} {seconds:.2f} s"
                                                      for step, seconds in self._timings.items()))
        for cell in self.nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in verdicts:
                cell.outputs = [verdicts[grade_id]]
                cell.execution_count = None
        return self.nb, self.resources

    def _run(self, runnable: list[int]) -> dict:
        """Run the cells, then grade every function; start the kernel again when it dies."""
        verdicts: dict = {}
        skipped: set[int] = set()
        done = starts = 0
        while True:
            starts += 1
            started = time.perf_counter()
            try:
                ready = False  # the kernel answered, and the submission's code may run
                with self.setup_kernel():
                    reply = self.wait_for_reply(self.kc.kernel_info())
                    ready = True
                    self.nb.metadata["language_info"] = reply["content"]["language_info"]
                    started = self._lap("kernel start", started)
                    for index in runnable[:done]:  # after a restart: the cells run before
                        if index not in skipped:
                            self._replay(index)
                    started = self._lap("replayed cells", started) if done else started
                    while done < len(runnable):
                        self._execute(runnable[done])
                        started = self._lap(self._step(runnable[done]), started)
                        done += 1
                    for tests in self._tests:
                        if tests.cell_id not in verdicts:
                            verdicts[tests.cell_id] = self._grade(tests)
                    self._lap("graded functions", started)
                return verdicts
            except RuntimeError as error:  # a kernel that died before answering
                if starts == 1 and not ready:  # no code of the submission ran: the grader's
                    raise GraderFailure(f"the kernel did not start: {error}") from error
                # a restarted one: again
            except _KernelDied as died:
                if isinstance(died.where, int):  # a cell: skip it from now on
                    skipped.add(died.where)
                    if done < len(runnable) and runnable[done] == died.where:
                        self.nb.cells[died.where].outputs.append(_error(
                            "DeadKernelError", _("the kernel died while running this cell, so "
                                                 "the cell was skipped when the notebook was "
                                                 "graded")))
                        done += 1
                else:
                    verdicts[died.where.cell_id] = _error(
                        "DeadKernelError", _("{function}: the kernel died while the function "
                                             "ran on its test cases; it gets no points").format(
                            function=died.where.function))
            if starts >= self.max_kernel_starts:
                for tests in self._tests:
                    verdicts.setdefault(tests.cell_id, _error(
                        "DeadKernelError", _("{function}: not graded: the kernel died {count} "
                                             "times while this notebook was graded").format(
                            function=tests.function, count=starts)))
                return verdicts

    def _step(self, index: int) -> str:
        """The step of the grading log's times that a cell's run counts in."""
        info = self.nb.cells[index].metadata.get("nbgrader", {})
        if info.get("grade_id") == IMPORTS_CELL:
            return "imports"
        return "answer cells" if info.get("solution") else "other cells"

    def _lap(self, step: str, started: float) -> float:
        """Add the time since ``started`` to ``step``; return now."""
        now = time.perf_counter()
        self._timings[step] += now - started
        return now

    def _record(self, kind: str, text: str) -> None:
        """Keep one message sent into the kernel, when ``record_folder`` is set."""
        if self._record_path is not None:
            with self._record_path.open("a") as record:
                record.write(json.dumps({"kind": kind, "text": text}) + "\n")

    def _execute(self, index: int) -> None:
        self._record("cell", self.nb.cells[index].source)
        try:
            self.execute_cell(self.nb.cells[index], index, store_history=True)
        except DeadKernelError:
            raise _KernelDied(index) from None
        except CellTimeoutError:  # its output stopped arriving (or was too large to read)
            self.nb.cells[index].outputs.append(_error(
                "CellTimeoutError", _("the cell's output did not arrive in time (or one message "
                                      "of it was over {size} MiB), so the rest of its output is "
                                      "lost").format(size=MAX_OUTPUT_MESSAGE_BYTES // 2 ** 20)))

    def _replay(self, index: int) -> None:
        """Run a cell again after a restart, in a scratch cell (its outputs are kept from the
        first run). nbclient writes an executed cell back by index, so the scratch cell stands
        at the end of the notebook while it runs."""
        source = self.nb.cells[index].source
        self._record("cell", source)
        self.nb.cells.append(new_code_cell(source))
        try:
            self.execute_cell(self.nb.cells[-1], len(self.nb.cells) - 1, store_history=True)
        except DeadKernelError:
            raise _KernelDied(index) from None
        except CellTimeoutError:  # its output stopped arriving: its first run's outputs stand
            pass
        finally:
            self.nb.cells.pop()

    def process_message(self, msg, cell, cell_index):
        """Keep a cell's outputs up to ``max_output_chars`` (text, data, metadata, tracebacks
        and display updates all count, against the cell that is running); note once that the
        rest was cut. An execution count that is not one (nbclient writes the count of any
        message of the cell's request into the cell, and nbformat would then reject the whole
        notebook) is left out."""
        content = msg.get("content")
        if isinstance(content, dict) and not _is_count(content.get("execution_count")):
            content["execution_count"] = None
        if msg["msg_type"] not in _OUTPUT_MESSAGES:
            try:
                return super().process_message(msg, cell, cell_index)
            except CellControlSignal:  # the cell is done (its idle status): nbclient's
                raise
            except (KeyError, TypeError, ValueError, AttributeError):  # a status or other
                return None  # message without what it should hold: not one the cell needs
        used = self._output_used.get(cell_index, 0)
        self._output_used[cell_index] = used + _size(msg.get("content", {}))
        if self._output_used[cell_index] <= self.max_output_chars:
            try:
                return super().process_message(msg, cell, cell_index)
            except CellControlSignal:
                raise
            except Exception:  # noqa: BLE001 (an output nbformat rejects: the kernel's doing)
                cell.outputs.append(new_output("stream", name="stdout", text=_(
                    "\n[an output of this cell was malformed and is not shown]\n")))
                return None
        if used <= self.max_output_chars:
            cell.outputs.append(new_output("stream", name="stdout", text=_(
                "\n[output cut: this cell printed more than {count:,} characters]\n").format(
                count=self.max_output_chars)))
        return None

    def _grade(self, tests: cases_module.FunctionTests):
        """The verdict output of one graded function."""
        graded: GradedFunction = import_module(tests.module).CHECKS[tests.function]
        inputs = [graded.inputs(**case.params) for case in tests.cases]
        stand_ins = [h for h in graded.helpers if not self._sound(h, graded)]  # failed ones
        cases = {"module": tests.module, "function": tests.function,
                 "answered_by_grader": stand_ins, "cases": [encode(i) for i in inputs]}
        results = self._converse(tests, graded, stand_ins, cases)
        if isinstance(results, _PastTimeLimit):
            return _error("GradingError", _("{function}: ran past the time limit of {seconds} s "
                                            "on its test cases").format(
                function=tests.function, seconds=results.seconds))
        if not isinstance(results, list) or len(results) != len(tests.cases):
            return _error("GradingError", _("{function}: the grader received no answer from the "
                                            "notebook (did the code replace how the kernel sends "
                                            "results?)").format(function=tests.function))
        counts = (sum(not c.hidden for c in tests.cases), sum(c.hidden for c in tests.cases))
        placeholders = tuple(h for h in stand_ins if h in graded.placeholders)
        for number, (case, case_inputs, result) in enumerate(
                zip(tests.cases, inputs, results), 1):
            failure = self._failure(graded, case, case_inputs, result, placeholders)
            if failure:
                # a hidden case's numbers, and every number of a function that the grader's
                # stand-ins answered (its answer or message could carry theirs), are hidden
                if case.hidden or stand_ins:
                    failure = failure[0], without_values(failure[1])
                fails = (_("{function} fails hidden test {number} of {count} ({case}): "
                           "{failure}") if case.hidden else
                         _("{function} fails public test {number} of {count} ({case}): "
                           "{failure}"))
                return _error(failure[0], fails.format(
                    function=tests.function, failure=failure[1], case=case.describe(),
                    number=sum(c.hidden == case.hidden for c in tests.cases[:number]),
                    count=counts[case.hidden]))
        self._passed.add(tests.function)
        return new_output("stream", name="stdout", text=ngettext(
            "{function}: all {count} test passed ({public} public, {hidden} hidden), checked "
            "by the grader\n", "{function}: all {count} tests passed ({public} public, {hidden} "
            "hidden), checked by the grader\n", len(tests.cases)).format(
            function=tests.function, count=len(tests.cases), public=counts[0],
            hidden=counts[1]))

    def _hidden_calls(self, caller: GradedFunction, name: str) -> set[str]:
        """The fingerprints of the calls of the helper ``name`` on its hidden cases that no
        public case makes too, which its stand-in refuses to answer (``Reference.hidden_calls``:
        kept with the reference answers)."""
        helper = import_module(type(caller).__module__).CHECKS[name]
        return self._reference.hidden_calls(helper, self._tests)

    def _sound(self, name: str, caller: GradedFunction) -> bool:
        """Whether the graded function ``name`` passed every test with the student's own
        helpers, all the way down (then the student's own ``name`` serves its callers)."""
        checks = import_module(type(caller).__module__).CHECKS
        return name in self._passed and all(self._sound(h, caller)
                                            for h in checks[name].helpers)

    async def _async_converse(self, tests, graded: GradedFunction, stand_ins: list[str],
                              cases: dict):
        """Run the grading harness (``HARNESS``) and answer its requests on the input channel
        (``HelperCalls``: its ``cases``, then the calls of the helpers ``stand_ins``, by the
        reference process) until the kernel replies; return the results it sent (anything:
        not yet trusted), or ``_PastTimeLimit`` when there are none in time. Output on the
        other channels is discarded."""
        self._record("harness", HARNESS)
        msg_id = self.kc.execute(HARNESS, store_history=False, allow_stdin=True,
                                 stop_on_error=False)
        timeout = self._get_timeout(None)
        deadline = None if timeout is None else time.monotonic() + timeout
        helpers = HelperCalls(graded, stand_ins, self._helpers, lambda: (
            float("inf") if deadline is None else deadline - time.monotonic()),
            hidden={name: self._hidden_calls(graded, name) for name in stand_ins},
            cases=cases)
        channels = {"stdin": self.kc.get_stdin_msg, "shell": self.kc.get_shell_msg,
                    "iopub": self.kc.get_iopub_msg}
        waiting = {asyncio.ensure_future(get()): name for name, get in channels.items()}
        results: object = None
        interrupted = False
        try:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    if interrupted:  # no reply even after the interrupt: start again
                        raise _KernelDied(tests)
                    await ensure_async(self.km.interrupt_kernel())
                    interrupted = True
                    deadline = time.monotonic() + 10
                    continue
                done, _ = await asyncio.wait(waiting, timeout=min(left or 1.0, 1.0),
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    if not await ensure_async(self.kc.is_alive()):
                        raise _KernelDied(tests)
                    continue
                for task in done:
                    name = waiting.pop(task)
                    message = task.result()
                    if message.get("parent_header", {}).get("msg_id") != msg_id:
                        pass
                    elif name == "shell" and message["msg_type"] == "execute_reply":
                        if interrupted:
                            return _PastTimeLimit(timeout)
                        return results
                    elif name == "stdin" and message["msg_type"] == "input_request":
                        asked = time.monotonic()
                        reply, sent = helpers.handle(str(message["content"].get("prompt", "")))
                        if deadline is not None:  # the time the grader takes to answer is its
                            deadline += time.monotonic() - asked  # own, not the function's
                        results = sent if sent is not None else results
                        text = json.dumps(reply)
                        self._record("reply", text)
                        self.kc.input(text)
                    waiting[asyncio.ensure_future(channels[name]())] = name
        finally:
            for task in waiting:
                task.cancel()

    _converse = run_sync(_async_converse)

    def _failure(self, graded: GradedFunction, case, inputs: dict, result,
                 placeholders: tuple) -> tuple | None:
        """(error name, message) when the answer to one case is wrong, else None."""
        if not isinstance(result, dict):
            return "GradingError", _("malformed answer")
        if "error" in result:
            error = result["error"]
            if not (isinstance(error, list) and len(error) == 2
                    and all(isinstance(part, str) for part in error)):
                return "GradingError", _("malformed answer")
            ename, message = error
            ename = ename if _ERROR_NAME.match(ename) else "Error"
            return ename, _("{function} raised {error}: {message}").format(
                function=graded.name, error=ename, message=message[:1000])
        try:
            got = decode(result.get("outputs"))
        except ValueError as error:
            return "GradingError", str(error)
        expected_text = self._reference.answer_text(graded, case.params, inputs, placeholders)
        expected = decode(expected_text)
        try:
            if isinstance(got, dict) and type(graded).recompute is not GradedFunction.recompute:
                got = {**got, **self._recomputed(graded, case.params, inputs, got, expected,
                                                 expected_text)}
            graded.compare(case.params, inputs, got, expected)
        except AssertionError as error:
            return "AssertionError", str(error)
        except GraderFailure:
            raise
        except Exception as error:  # noqa: BLE001 (an answer of an unexpected form)
            name, message = ((error.name, error.message) if isinstance(error, RecomputeRaised)
                             else (type(error).__name__, error))
            return "GradingError", _("the answer could not be compared with the expected one "
                                     "({error}: {message})").format(error=name, message=message)
        return None

    def _recomputed(self, graded: GradedFunction, params: dict, inputs: dict, got: dict,
                    expected, expected_text: str) -> dict:
        """``graded.recompute``'s facts of the answer ``got`` (the reference's answer:
        ``expected``, encoded as ``expected_text``), by the reference: in the
        submission's reference process when it is a fork (the reference's libraries are
        imported there, and need not be here), else in this process
        (``reference_process.forked``)."""
        if reference_process.forked():
            return recomputed_facts(self._helpers(recompute_request(graded, params, got,
                                                                    expected_text),
                                                  RECOMPUTE_S))
        return graded.recompute(inputs, got, expected, self._reference.function)


_OUTPUT_MESSAGES = {"stream", "display_data", "execute_result", "error", "update_display_data"}


def _size(value, depth: int = 0) -> int:
    """About the characters an output message's content would add to the notebook: the
    lengths of its strings, 16 per other value; past 100 levels of nesting, more than any
    cap."""
    if depth > 100:
        return 2 ** 62
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(str(k)) + _size(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return sum(_size(v, depth + 1) for v in value) + 2
    return 16


def without_values(message: str) -> str:
    """A hidden case's failure message with every decimal number (an expected value, or an
    input that would give the case away) shown as HIDDEN_VALUE; integers (shapes, counts,
    indices) and words (what is wrong) stay."""
    return _DECIMAL.sub(_(HIDDEN_VALUE), message)


def _is_count(value) -> bool:
    """Whether ``value`` is what nbformat takes as an execution count: None or an int >= 0."""
    return value is None or (type(value) is int and value >= 0)


def _error(ename: str, message: str):
    """An error output; text the notebook's JSON cannot hold (lone surrogates from the
    student's exception) is replaced."""
    ename, message = (text.encode("utf-8", "replace").decode("utf-8")
                      for text in (ename, message))
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])

