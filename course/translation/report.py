"""``python -m course translations``: extract the catalogues, and say what is left to translate.

``extract(assignments)`` updates the catalogue of each translated assignment (and creates the
catalogue of each assignment named to start one), the pages' catalogue and the messages'
(``course.translation.messages``). ``report()`` gives, for every catalogue, its problems
(``catalogues.Status`` and, for each translated entry, ``rules.problems``; for the messages,
``messages.Status`` and ``rules.message_problems``) and its counts; the assignments without a
catalogue are listed as not started.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from course.assignments import REPO_ROOT, Assignment
from course.translation import catalogues, messages, pages, rules
from course.translation.notebooks import catalogue, translated
from course.translation.units import Unit, notebook_units, words_of_code

CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Report:
    """One catalogue: what it lacks and breaks, and what it holds."""

    name: str
    path: Path
    problems: list[str] = field(default_factory=list)
    texts: int = 0  # English texts translated
    cells: int = 0  # of them, notebook cells
    english_words: int = 0  # words of the English texts translated
    chinese_characters: int = 0


def english_words(unit: Unit) -> int:
    """The words a reader reads in a unit's English: prose, comments and docstrings."""
    text = words_of_code(unit.english) if unit.kind == "code" else rules.prose(unit.english)
    return len(re.findall(r"[A-Za-z][A-Za-z'-]*", text))


def _report(name: str, path: Path, units: list[Unit]) -> Report:
    report = Report(name, path)
    report.problems = catalogues.status(path, units).lines()
    entries = catalogues.entries(path)
    for unit in units:
        entry = entries.get((unit.context, unit.english))
        if entry is None or not entry.chinese or entry.fuzzy:
            continue
        report.problems += [f"{unit.context}: {p}"
                            for p in rules.problems(unit, entry.chinese, entry.exempt)]
        report.texts += 1
        report.cells += unit.kind in ("markdown", "code")
        report.english_words += english_words(unit)
        report.chinese_characters += len(CJK.findall(entry.chinese))
    return report


def notebook_report(assignment: Assignment) -> Report:
    return _report(assignment.id, catalogue(assignment), notebook_units(assignment))


def pages_report(assignments: list[Assignment]) -> Report:
    return _report("pages", pages.CATALOGUE, pages.units(assignments))


def messages_report() -> Report:
    """The messages of the public tests and the grader."""
    report = Report("messages", messages.CATALOGUE)
    report.problems = messages.status(messages.extract()).lines() + messages.problems()
    for english, chinese, _ in messages.translations():
        report.texts += 1
        report.english_words += len(re.findall(r"[A-Za-z][A-Za-z'-]*", english[0]))
        report.chinese_characters += len(CJK.findall(chinese[0]))
    return report


def reports(assignments: list[Assignment]) -> list[Report]:
    """The report of every translated assignment's catalogue, then the pages' and the
    messages'."""
    return ([notebook_report(a) for a in translated(assignments)]
            + [pages_report(assignments), messages_report()])


def extract(assignments: list[Assignment], start: list[Assignment] = ()) -> list[Path]:
    """Update the catalogues of the translated assignments, start those of ``start``, update
    the pages' and the messages' catalogues; return the files written."""
    written = []
    for assignment in dict.fromkeys([*translated(assignments), *start]):
        catalogues.update(catalogue(assignment), notebook_units(assignment),
                          f"notebook {assignment.id}")
        written.append(catalogue(assignment))
    catalogues.update(pages.CATALOGUE, pages.units(assignments), "pages")
    messages.update()
    return [*written, pages.CATALOGUE, messages.CATALOGUE]


def format_reports(found: list[Report], assignments: list[Assignment]) -> str:
    """The report printed by ``python -m course translations``."""
    lines = []
    for report in found:
        where = report.path.relative_to(REPO_ROOT)
        cells = f" ({report.cells} cells)" if report.cells else ""
        lines.append(f"{report.name} ({where}): {report.texts} texts translated{cells}, "
                     f"{report.english_words} English words, "
                     f"{report.chinese_characters} Chinese characters"
                     + ("" if report.problems else "; up to date"))
        lines += [f"  {problem}" for problem in report.problems]
    started = {r.name for r in found}
    lines += [f"{a.id}: not translated yet (`python -m course translations extract {a.id}` "
              "starts its catalogue)" for a in assignments if a.id not in started]
    return "\n".join(lines)
