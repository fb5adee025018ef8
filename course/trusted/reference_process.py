"""The reference helpers that answer a kernel's stand-ins, in a process of their own.

A stand-in's arguments come from the student's code, and the reference helper may take as long
as they make it (non-max suppression of two million boxes: hours) or as much memory. So the
grader does not run those calls itself: ``ReferenceProcess`` starts
``python -m course.trusted.reference_process`` on the first call of a graded notebook, sends it
the source notebook, and then each request; the child runs the reference solution once
(``course.trusted.reference_solution.run_reference``), limits its own address space to what it
holds plus ``MAX_CALL_MEMORY_BYTES`` and answers with ``helper_calls.Answers``. A call that has not
been answered when the harness's time is up is answered with an error and the child is killed
(a later call starts a new one). Messages are JSON, each preceded by its length (8 bytes, big
endian), on the child's standard input and output; what the reference code prints goes to its
standard error.

A new Python that imports TensorFlow takes seconds, as much as a whole submission's grading, and
a third of a class has a failed helper. So on a grading worker the children are forked by the
worker's fork server (``course.grading.forkserver``, ``use_server``), which has imported the
assignment's libraries once: each ``ReferenceProcess`` gets a fork of its own, which runs the
reference solution (milliseconds) and answers as a new process would, on the connection instead
of its standard streams (``serve_child``). Each submission still gets a child of its own: nothing
one submission's calls leave behind reaches another's. Without a server (serial nbgrader, or a
server that died), the child is a new interpreter, as before. Either way the child calls itself
``CHILD_NAME`` (its name in ``ps``).

A forked child also recomputes the facts of an answer that the grader establishes itself
(``GradedFunction.recompute``: assignment 2's model, whose accuracies and costs are evaluated
with the reference's network): the grading worker sends ``recompute_request`` and reads
``recomputed_facts``. The worker then needs none of the libraries the reference runs on (a
worker that imports TensorFlow spends seconds of CPU before its first submission), and what the
recomputation leaves behind dies with the submission's child. Without a fork server (serial
nbgrader) the grading process recomputes itself: a new interpreter for every submission would
import those libraries every time, where that process imports them once. A kernel cannot ask
for a recomputation: ``helper_calls.HelperCalls`` forwards only a stand-in's own keys
(``REQUEST_KEYS``).

``grade-class`` has another kind of fork compute the reference answers of a grading run
(``answers_in_fork``), for the same reason: its own process then never imports TensorFlow.
That child writes them into the run's folder of answers, which only the grader reads
(``reference_answers.Reference.every_answer``), and ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from course.trusted.failure import GraderFailure
from course.trusted.helper_calls import MAX_ARGUMENT_BYTES, MAX_CALL_MEMORY_BYTES, Answers
from utils.graded import GradedFunction, decode, encode
from utils.i18n import ENGLISH, _, speaking

_LENGTH = 8
READY = b"ready"  # the child's first message: it has run the reference solution
STARTUP_S = 600  # the longest a child may take to run the reference solution
CHILD_NAME = "cnn-reference"  # the children's process name (/proc/PID/comm)
RECOMPUTE = "recompute"  # the key of a grader's request for an answer's facts (recompute_request)
# How long the grader waits for a recomputation: as long as it takes. Its arguments are bounded
# (``recompute`` evaluates parameters of fixed shapes: a fraction of a second), so only the CPU
# can make it slow, and a submission whose processes take that CPU (where the sandbox cannot
# limit it) is ended by the sandbox's wall-clock limit. A bound would let such a submission
# turn its verdict into the grader's failure, which is never a grade (red team, round 13).
RECOMPUTE_S = float("inf")

_server = None  # the fork server (forkserver.ForkServer) that forks this process's children


def use_server(server) -> None:
    """Have this process's ReferenceProcess children forked by ``server`` (a
    ``forkserver.ForkServer``; None: new interpreters) while it is alive."""
    global _server
    _server = server


def forked() -> bool:
    """Whether this process's children are forks of a fork server (then they start in
    milliseconds with the assignment's libraries imported; else each is a new interpreter,
    which imports them in seconds)."""
    return _server is not None and _server.alive()


class ReferenceProcess:
    """The child process of one source notebook's reference helpers (started when needed)."""

    def __init__(self, source_text: str):
        self.source_text = source_text
        self.child: _Child | None = None

    def __call__(self, message: dict, seconds: float) -> dict:
        """The child's reply to ``message`` within ``seconds``, or an error saying why not.
        A child that ends while it answers (killed, out of memory) is started again for a
        second try; one that ends twice on the same call was ended by that call's arguments.
        GraderFailure when a child cannot run the reference solution twice in a row. The time
        a new child takes to start is not the call's: ``seconds`` counts from its start."""
        for attempt in (1, 2):
            try:
                if self.child is None:
                    try:
                        self._start()
                    except GraderFailure:
                        if attempt == 2:
                            raise
                        continue
                deadline = time.monotonic() + seconds
                _send(self.child.requests, json.dumps(message).encode())
                reply = _receive(self.child.replies, deadline)
            except (OSError, EOFError):
                self.close()
                if attempt == 2:
                    return {"error": _("the grader's reference process ended twice while "
                                       "answering this call")}
                continue
            if reply is None:
                self.close()
                return {"error": _("it took more than the {seconds:.0f} s left to the "
                                   "grading of the function").format(seconds=seconds)}
            return json.loads(reply)
        raise AssertionError("unreachable")

    def _start(self) -> None:
        """A new child, once it has run the reference solution (GraderFailure if it could
        not, or not within ``STARTUP_S``)."""
        from course.grading.forkserver import REFERENCE

        deadline = time.monotonic() + STARTUP_S
        self.child = forked() and _Child.forked(_server.socket, REFERENCE) or _Child.started()
        try:
            _send(self.child.requests, self.source_text.encode())
            ready = _receive(self.child.replies, deadline)
        except (OSError, EOFError):
            ready = None
        if ready != READY:
            self.close()
            raise GraderFailure("the grader's reference process could not run the reference "
                                "solution")

    def close(self) -> None:
        """End the child (a later call starts another)."""
        if self.child is not None:
            self.child.end()
            self.child = None


class _Child:
    """A running child: its pid, the streams of its requests and replies, and how to end it."""

    def __init__(self, pid: int, requests, replies, end):
        self.pid, self.requests, self.replies, self._end = pid, requests, replies, end

    def end(self) -> None:
        self._end()
        for stream in (self.requests, self.replies):
            with contextlib.suppress(OSError):  # a request half written to a dead child
                stream.close()

    @classmethod
    def started(cls) -> _Child:
        """A new interpreter."""
        process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

        def end():
            process.kill()
            process.wait()
        return cls(process.pid, process.stdin, process.stdout, end)

    @classmethod
    def forked(cls, path: Path, request: dict) -> _Child | None:
        """A fork of the fork server listening at ``path``, for ``request`` (the kind of
        child: ``forkserver.REFERENCE`` or ``forkserver.ANSWERS``); None when it does not
        answer. The child's first line is its pid, held as a pidfd, so that ending it can never
        signal another process that took the number after it ended."""
        from course.grading.forkserver import ANSWER_S

        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(ANSWER_S)
        try:
            connection.connect(str(path))
            connection.sendall(json.dumps(request).encode())
            replies = connection.makefile("rb")
            pid = int(replies.readline())
            pidfd = os.pidfd_open(pid)
        except (OSError, ValueError):
            connection.close()
            return None
        connection.settimeout(None)

        def end():
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.close(pidfd)
            connection.close()
        return cls(pid, connection.makefile("wb"), replies, end)


def _send(stream, data: bytes) -> None:
    stream.write(len(data).to_bytes(_LENGTH, "big") + data)
    stream.flush()


def _receive(stream, deadline: float = float("inf")) -> bytes | None:
    """One message from ``stream``; None when none has begun by ``deadline``. EOFError when
    the stream ends."""
    if deadline != float("inf"):
        ready, _, _ = select.select([stream], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            return None
    header = stream.read(_LENGTH)
    if len(header) < _LENGTH:
        raise EOFError
    data = stream.read(int.from_bytes(header, "big"))
    if len(data) < int.from_bytes(header, "big"):
        raise EOFError
    return data


def answers_in_fork(source: Path, folder: Path, secret: str) -> bool:
    """Have a fork of this process's fork server (``use_server``) compute the reference answers
    of the source notebook ``source`` in the run ``secret`` into ``folder``
    (``Reference.every_answer``), with this process's threads for the numerical libraries;
    True when it did. False, having computed nothing or part of them, when there is no server
    or the child failed (a data file missing, the server gone): the caller computes what is
    missing itself, and reports the failure as it would have."""
    from course.grading.forkserver import ANSWERS
    from course.grading.worker import THREAD_VARIABLES

    child = forked() and _Child.forked(_server.socket, ANSWERS)
    if not child:
        return False
    job = {"source": str(Path(source).resolve()), "folder": str(Path(folder).resolve()),
           "secret": secret, "threads": {k: os.environ.get(k) for k in THREAD_VARIABLES}}
    try:
        _send(child.requests, json.dumps(job).encode())
        return json.loads(_receive(child.replies)) == {"done": True}
    except (OSError, EOFError, ValueError):
        return False
    finally:
        child.end()


def serve_answers(connection: socket.socket) -> None:
    """A child forked by a fork server for ``answers_in_fork``: say its pid, read the job,
    compute the answers into its folder, say whether it could."""
    from course.trusted.reference_answers import Reference

    connection.sendall(f"{os.getpid()}\n".encode())
    requests, replies = connection.makefile("rb"), connection.makefile("wb")
    job = json.loads(_receive(requests))
    for name, value in job["threads"].items():  # the grader's, not a kernel's
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        Reference(Path(job["source"]), Path(job["folder"])).every_answer(job["secret"])
    except Exception as error:  # noqa: BLE001 (the caller computes the answers itself)
        _send(replies, json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
        return
    _send(replies, json.dumps({"done": True}).encode())


def serve_child(connection: socket.socket) -> None:
    """A child forked by a fork server for ``connection``: say its pid, then answer
    (``_serve``) on the connection."""
    connection.sendall(f"{os.getpid()}\n".encode())
    _serve(connection.makefile("rb"), connection.makefile("wb"))


def _serve(requests, replies) -> None:
    """The child: read the source notebook from ``requests``, then answer each request on
    ``replies``, in the notebook's language (its errors are shown to the student), until the
    requests end."""
    from course.trusted.reference_solution import run_reference

    Path("/proc/self/comm").write_text(CHILD_NAME)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the reference's prints: not replies
    source = json.loads(_receive(requests))
    with speaking(source["metadata"].get("language", ENGLISH)):
        _answer(requests, replies, run_reference(source))


def _answer(requests, replies, namespace: dict) -> None:
    """Say READY, then answer each request with the reference helpers of ``namespace`` until
    the requests end, within the memory cap."""
    _send(replies, READY)
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    limit = mapped + MAX_CALL_MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY
                                            else min(limit, hard), hard))
    answers = Answers(namespace.__getitem__)
    while True:
        try:
            message = json.loads(_receive(requests))
        except EOFError:
            return
        reply = (_recompute(message, namespace.__getitem__) if RECOMPUTE in message
                 else answers(message))
        _send(replies, json.dumps(reply).encode())


def recompute_request(graded: GradedFunction, params: dict, got, expected_text: str) -> dict:
    """The grader's request for ``graded.recompute`` of an answer ``got`` (decoded plain data)
    to the case ``params``, whose reference answer is ``expected_text`` (encoded)."""
    return {RECOMPUTE: graded.name, "module": type(graded).__module__, "case": encode(params),
            "got": encode(got), "expected": expected_text}


class RecomputeRaised(Exception):
    """``recompute`` raised on an answer (of an unexpected form): ``name`` and ``message`` of
    its error."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name, self.message = name, message


def recomputed_facts(reply: dict) -> dict:
    """The facts of a reply to ``recompute_request`` (plain data, to be merged into the
    answer). RecomputeRaised when ``recompute`` raised on the answer; GraderFailure when the
    child could not answer (it ended twice)."""
    if "raised" in reply:
        raise RecomputeRaised(*reply["raised"])
    if "facts" not in reply:
        raise GraderFailure(f"the grader's reference process could not recompute an answer: "
                            f"{reply.get('error')}")
    facts = decode(reply["facts"])
    if not isinstance(facts, dict):
        raise GraderFailure("the grader's reference process recomputed no facts")
    return facts


def _recompute(message: dict, reference) -> dict:
    """The child's reply to ``recompute_request``: ``{"facts": encoded}``, or ``{"raised":
    [error name, message]}`` when ``recompute`` raised."""
    from importlib import import_module

    from course.grading.worker import TEST_MODULES  # the modules a request may name

    module = message.get("module")
    if not (isinstance(module, str) and module.startswith(TEST_MODULES)):
        return {"error": "not a module of the assignments' tests"}
    try:
        graded = import_module(module).CHECKS[message[RECOMPUTE]]
        params = decode(message["case"])
        facts = graded.recompute(graded.inputs(**params),
                                 decode(message["got"], MAX_ARGUMENT_BYTES),
                                 decode(message["expected"]), reference)
        return {"facts": encode(facts)}
    except Exception as error:  # noqa: BLE001 (an answer of an unexpected form)
        return {"raised": [type(error).__name__, str(error)[:500]]}


if __name__ == "__main__":
    _serve(sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb"))
