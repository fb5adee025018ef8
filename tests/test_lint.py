"""The course's Python code passes its linter (ruff, configured in pyproject.toml), so every
`noqa` comment is checked too (RUF100 flags the ones that silence nothing)."""

import subprocess
import sys

from course.assignments import REPO_ROOT


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise",
                             str(REPO_ROOT)], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
