"""The pinned environment and the commands the README promises."""

import ast
import re
import sys
from importlib.metadata import packages_distributions
from importlib.metadata import version as installed_version
from pathlib import Path

import nbformat

from course import assignments
from utils import data

ROOT = Path(__file__).resolve().parents[1]
CODE = ("utils", "course", "tests", "site")  # the folders of the course's Python code


def _canonical(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines):
    return {_canonical(name): version for name, version in
            (re.fullmatch(r"\s*-?\s*([A-Za-z0-9_.-]+)==([^\s#]+)\s*", line).groups()
             for line in lines if re.fullmatch(r"\s*-?\s*[A-Za-z0-9_.-]+==[^\s#]+\s*", line))}


def _imports(code: str) -> set[str]:
    """The top-level modules that ``code`` imports (absolute imports, wherever they are)."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def imported_modules() -> dict[str, str]:
    """{top-level module: a file that imports it} of the course's code and source notebooks
    (IPython's magics aside), the standard library left out."""
    found = {}
    for folder in CODE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module in _imports(path.read_text()):
                found.setdefault(module, str(path.relative_to(ROOT)))
    for a in assignments.available():
        for cell in nbformat.read(a.source_notebook, as_version=4).cells:
            if cell.cell_type == "code":
                code = "\n".join(line for line in cell.source.splitlines()
                                 if not line.lstrip().startswith(("%", "!")))
                for module in _imports(code):
                    found.setdefault(module, str(a.source_notebook.relative_to(ROOT)))
    return {m: where for m, where in found.items() if m not in sys.stdlib_module_names}


def test_every_imported_package_is_pinned_at_the_installed_version():
    pins = _pins((ROOT / "requirements.txt").read_text().splitlines())
    own = {p.stem for folder in CODE for p in (ROOT / folder).iterdir()
           if p.suffix == ".py" or (p / "__init__.py").is_file()} | set(CODE)
    distributions = packages_distributions()
    problems = []
    for module, where in sorted(imported_modules().items()):
        if module in own:
            continue
        if module not in distributions:
            problems.append(f"{where} imports {module}, which no installed package provides")
            continue
        for name in distributions[module]:
            pinned, installed = pins.get(_canonical(name)), installed_version(name)
            if pinned != installed:
                problems.append(f"{where} imports {module} ({name} {installed}), which "
                                + ("requirements.txt does not pin" if pinned is None else
                                   f"requirements.txt pins at {pinned}")
                                + f": pin {_canonical(name)}=={installed} in requirements.txt "
                                  "and environment.yml (or install the pins: make setup)")
    assert not problems, "\n".join(problems)


def test_requirements_and_environment_yml_pin_the_same_versions():
    requirements = _pins((ROOT / "requirements.txt").read_text().splitlines())
    conda = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert requirements, "requirements.txt pins nothing"
    assert requirements == conda, (
        f"only in requirements.txt: {requirements.items() - conda.items()}; "
        f"only in environment.yml: {conda.items() - requirements.items()}")


def test_the_pre_commit_hook_runs_the_pinned_ruff():
    pinned = _pins((ROOT / "requirements.txt").read_text().splitlines())["ruff"]
    hook = re.search(r"ruff-pre-commit\n\s*rev: v(\S+)",
                     (ROOT / ".pre-commit-config.yaml").read_text())
    assert hook and hook.group(1) == pinned, (
        f".pre-commit-config.yaml's ruff hook must have rev: v{pinned}, the pinned ruff")


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
