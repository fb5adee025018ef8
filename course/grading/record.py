"""What ``grade-class`` remembers between runs on the same output folder: ``grading.json``.

For the course (``out/course``) it keeps the key of each assignment's sources as the course
was built from them; for each submission (student, assignment) its key (a hash of the
sanitized notebook, the assignment's grading bundle, the limits and the sandbox setting), its
status and how long it took. A submission whose key is unchanged keeps its grades on the next
run; gradebook.db keeps the points. The file is rewritten (atomically) after every graded
submission, so a run that is stopped keeps what it finished.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

FILE = "grading.json"
VERSION = 2  # 2: entries say whether the submission was graded


@dataclass
class Entry:
    """One submission's last result. ``key`` is empty for one that could not be graded
    (refused, unreadable): those are looked at again on every run. ``final`` is False when the
    result says more about the grader than the submission (its data was missing, a worker could
    not sandbox or ran other code, the task itself failed): graded again on the next run.
    ``graded``: whether its points are in the gradebook (``status`` says it in words)."""

    student: str
    assignment: str  # the assignment id; "" when unknown
    status: str
    key: str = ""
    final: bool = True
    graded: bool = False
    seconds: float | None = None  # the task's wall time on its worker
    cpu_seconds: float | None = None  # CPU time of the task and its kernel
    worker: str = ""


class ClassRecord:
    """The record in ``folder``/grading.json (empty when there is none)."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / FILE
        self.assignments: dict[str, str] = {}  # assignment id -> key of its sources
        self.entries: dict[tuple[str, str], Entry] = {}
        if self.path.exists():
            saved = json.loads(self.path.read_text())
            if saved.get("version") == VERSION:
                self.assignments = saved["assignments"]
                self.entries = {(e["student"], e["assignment"]): Entry(**e)
                                for e in saved["submissions"]}

    def clear(self) -> None:
        self.assignments, self.entries = {}, {}

    def keeps(self, student: str, assignment: str, key: str) -> bool:
        """Whether the submission's last result still holds: same key, and final."""
        entry = self.entries.get((student, assignment))
        return bool(entry and entry.key == key and entry.final)

    def put(self, entry: Entry) -> None:
        self.entries[entry.student, entry.assignment] = entry

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        saved = {"version": VERSION, "assignments": self.assignments,
                 "submissions": [asdict(e) for _, e in sorted(self.entries.items())]}
        with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False) as handle:
            json.dump(saved, handle, indent=1)
        os.replace(handle.name, self.path)
