"""A failure of the grader itself while it grades one notebook, not of the student's code: the
kernel did not start, the reference solution could not run. The submission is then not graded
this time (no points, not even a 0) and is graded again on the next run.

``TrustedExecute`` records the failure in a file the grading task names
(``TrustedExecute.failure_file``) before nbgrader stops on the notebook; the task reads it
(``read``) to tell a grader's failure from one of nbgrader's on the notebook.
"""

from __future__ import annotations

import json
from pathlib import Path


class GraderFailure(Exception):
    """The grader could not grade this notebook; the message says why."""


def record(path: Path, failure: GraderFailure) -> None:
    Path(path).write_text(json.dumps({"failure": str(failure)}))


def read(path: Path) -> str | None:
    """Why the grader failed on the notebook graded with ``path`` as its failure file, or None
    when it did not."""
    path = Path(path)
    return json.loads(path.read_text())["failure"] if path.is_file() else None
