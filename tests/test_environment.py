"""The pinned environment and the commands the README promises."""

import re
from pathlib import Path

from course import assignments
from utils import data

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    return {name.lower(): version for name, version in
            (re.fullmatch(r"\s*-?\s*([A-Za-z0-9_.-]+)==([^\s#]+)\s*", line).groups()
             for line in lines if re.fullmatch(r"\s*-?\s*[A-Za-z0-9_.-]+==[^\s#]+\s*", line))}


def test_requirements_and_environment_yml_pin_the_same_versions():
    requirements = _pins((ROOT / "requirements.txt").read_text().splitlines())
    conda = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert requirements, "requirements.txt pins nothing"
    assert requirements == conda, (
        f"only in requirements.txt: {requirements.items() - conda.items()}; "
        f"only in environment.yml: {conda.items() - requirements.items()}")


def test_environment_yml_uses_the_python_of_the_course():
    assert "python=3.11" in (ROOT / "environment.yml").read_text()
    assert '">=3.11,<3.12"' in (ROOT / "pyproject.toml").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    assert len(commands) >= 2, "the README must open with the setup+demo and the test commands"
    test_command = commands[1].strip().splitlines()[0].split("#")[0].strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines, (
        f".ci/run does not run the README's test command {test_command!r}")


def test_registry_names_only_known_assignments():
    known = {a.id for a in assignments.ALL}
    for entry in data.load_registry().values():
        assert entry.assignments and set(entry.assignments) <= known, entry
