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
"""

from __future__ import annotations

import json
import os
import resource
import select
import subprocess
import sys
import time

from course.trusted.failure import GraderFailure
from course.trusted.helper_calls import MAX_CALL_MEMORY_BYTES, Answers

_LENGTH = 8
READY = b"ready"  # the child's first message: it has run the reference solution
STARTUP_S = 600  # the longest a child may take to run the reference solution


class ReferenceProcess:
    """The child process of one source notebook's reference helpers (started when needed)."""

    def __init__(self, source_text: str):
        self.source_text = source_text
        self.child: subprocess.Popen | None = None

    def __call__(self, message: dict, seconds: float) -> dict:
        """The child's reply to ``message`` within ``seconds``, or an error saying why not.
        A child that ends while it answers (killed, out of memory) is started again for a
        second try; one that ends twice on the same call was ended by that call's arguments.
        GraderFailure when the child cannot run the reference solution at all. The time a new
        child takes to start is not the call's: ``seconds`` counts from its start."""
        for attempt in (1, 2):
            try:
                if self.child is None:
                    self._start()
                deadline = time.monotonic() + seconds
                _send(self.child.stdin, json.dumps(message).encode())
                reply = _receive(self.child.stdout, deadline)
            except (OSError, EOFError):
                self.close()
                if attempt == 2:
                    return {"error": "the grader's reference process ended twice while "
                                     "answering this call"}
                continue
            if reply is None:
                self.close()
                return {"error": f"it took more than the {seconds:.0f} s left to the grading "
                                 "of the function"}
            return json.loads(reply)
        raise AssertionError("unreachable")

    def _start(self) -> None:
        """A new child, once it has run the reference solution (GraderFailure if it could
        not, or not within ``STARTUP_S``)."""
        deadline = time.monotonic() + STARTUP_S
        self.child = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            _send(self.child.stdin, self.source_text.encode())
            ready = _receive(self.child.stdout, deadline)
        except (OSError, EOFError):
            ready = None
        if ready != READY:
            self.close()
            raise GraderFailure("the grader's reference process could not run the reference "
                                "solution")

    def close(self) -> None:
        """End the child (a later call starts another)."""
        if self.child is not None:
            self.child.kill()
            self.child.wait()
            for stream in (self.child.stdin, self.child.stdout):
                stream.close()
            self.child = None


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


def _serve() -> None:
    """The child: read the source notebook, then answer requests until the input ends."""
    import nbformat

    from course.trusted.reference_solution import run_reference

    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the reference's prints: not replies
    namespace = run_reference(nbformat.reads(_receive(requests).decode(), as_version=4))
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
        _send(replies, json.dumps(answers(message)).encode())


if __name__ == "__main__":
    _serve()
