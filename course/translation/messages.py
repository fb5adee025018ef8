"""The messages of the public tests and of the grader in Chinese: ``locale/zh_CN/messages.po``.

The messages are the ``_("...")``, ``N_("...")`` and ``ngettext("...", "...", n)`` calls of the
students' helpers (``utils/``) and of the grader's verdicts (``course/trusted/executor.py``, the
cases' descriptions, ``cases.py``, and what a failed helper's stand-in says,
``helper_calls.py`` and ``reference_process.py``),
extracted with babel (``extract``: pybabel extract's API). The catalogue is brought in step with
them as ``pybabel update`` does (``Catalog.update``): a new message gets an empty entry, a
changed one keeps its old translation marked fuzzy with the previous English beside it, one
no code uses any more becomes obsolete. ``status`` says what is missing, fuzzy or obsolete
without writing anything, and ``problems`` what a translation broke (``rules.message_problems``).

Students have no build step, so the compiled catalogue is committed where ``utils.i18n`` reads
it, ``utils/locale/zh_CN/LC_MESSAGES/cnn_course.mo``: ``python -m course release`` writes it
(``write_compiled``) with the other generated files, and ``stale`` says when it no longer holds
the catalogue's translations.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from babel.messages import mofile
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file

from course.assignments import REPO_ROOT
from course.translation import LANGUAGE, LOCALE_DIR, catalogues, rules
from utils import i18n

CATALOGUE = LOCALE_DIR / "messages.po"
COMPILED = i18n.LOCALE_DIR / LANGUAGE / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"
GRADER = [REPO_ROOT / "course" / "trusted" / name
          for name in ("executor.py", "cases.py", "helper_calls.py", "reference_process.py")]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
TRANSLATORS = "Translators:"  # a comment starting so, above a message, is shown beside it


def sources() -> list[Path]:
    """The files whose messages the catalogue holds: the helpers, and the grader's verdicts."""
    return sorted((REPO_ROOT / "utils").rglob("*.py")) + GRADER


@dataclass(frozen=True)
class Message:
    """One message of the code: its English (a pair for ``ngettext``: singular and plural) and
    the files that use it, with the translator's comments of the code."""

    english: str | tuple[str, str]
    locations: tuple[tuple[str, int], ...]
    comments: tuple[str, ...] = ()

    @property
    def texts(self) -> tuple[str, ...]:
        return self.english if isinstance(self.english, tuple) else (self.english,)


def extract() -> list[Message]:
    """Every message of ``sources()``, once, in the order of the files."""
    found: dict = {}
    for path in sources():
        where = path.relative_to(REPO_ROOT).as_posix()
        for line, english, comments, _context in extract_from_file(
                "python", path, KEYWORDS, comment_tags=(TRANSLATORS,), strip_comment_tags=True):
            key = english if isinstance(english, str) else tuple(english)
            locations, notes = found.get(key, ((), ()))
            found[key] = (locations + ((where, line),), notes + tuple(
                c for c in comments if c not in notes))
    return [Message(key, locations, notes) for key, (locations, notes) in found.items()]


def template(messages: list[Message]) -> Catalog:
    """The messages as a catalogue without translations (babel's .pot)."""
    catalogue = catalogues.new_catalogue("messages of the public tests and the grader")
    for message in messages:
        catalogue.add(message.english, locations=list(message.locations),
                      auto_comments=list(message.comments))
    return catalogue


def update(path: Path = CATALOGUE) -> Status:
    """Bring the catalogue at ``path`` in step with the code (see the module docstring)."""
    messages = extract()
    catalogue = catalogues.read(path) if path.is_file() else catalogues.new_catalogue(
        "messages of the public tests and the grader")
    catalogue.update(template(messages), update_creation_date=False)
    for key in [k for k, entry in catalogue.obsolete.items() if not _translated(entry)]:
        del catalogue.obsolete[key]  # nothing to keep: no translation
    catalogues.write(path, catalogue, include_lineno=False)
    return status(messages, path)


@dataclass
class Status:
    """What the catalogue lacks: messages missing (never translated, or not in the catalogue:
    run extract), fuzzy and obsolete, each named by its English."""

    missing: list[str]
    fuzzy: list[str]
    obsolete: list[str]

    def lines(self) -> list[str]:
        return ([f"missing (not translated; run extract if it is not in the catalogue): {x}"
                 for x in self.missing]
                + [f"fuzzy (the English changed; update the translation and remove the fuzzy "
                   f"flag): {x}" for x in self.fuzzy]
                + [f"obsolete (no code uses it; delete the entry): {x}" for x in self.obsolete])


def _label(english) -> str:
    text = english[0] if isinstance(english, tuple) else english
    return repr(text[:70] + ("..." if len(text) > 70 else ""))


def _translated(entry) -> bool:
    strings = entry.string if isinstance(entry.string, (tuple, list)) else (entry.string,)
    return all(strings)


def status(messages: list[Message], path: Path = CATALOGUE) -> Status:
    """What the catalogue at ``path`` lacks for ``messages`` (nothing is written)."""
    catalogue = catalogues.read(path)
    wanted = {m.english: m for m in messages}
    result = Status([], [], [])
    for english in wanted:
        entry = catalogue.get(english)
        if entry is None or not _translated(entry):
            result.missing.append(_label(english))
        elif entry.fuzzy:
            result.fuzzy.append(_label(english))
    result.obsolete = [_label(m.id) for m in catalogue if m.id and m.id not in wanted]
    result.obsolete += [_label(m.id) for m in catalogue.obsolete.values()]
    return result


def translations(path: Path = CATALOGUE) -> list[tuple[tuple[str, ...], tuple[str, ...],
                                                       frozenset[str]]]:
    """(English texts, Chinese texts, glossary exemptions) of each translated, not fuzzy
    entry (a plural entry: singular and plural, and the one Chinese form)."""
    found = []
    for entry in catalogues.read(path):
        if not entry.id or entry.fuzzy or not _translated(entry):
            continue
        english = entry.id if isinstance(entry.id, (tuple, list)) else (entry.id,)
        chinese = entry.string if isinstance(entry.string, (tuple, list)) else (entry.string,)
        found.append((tuple(english), tuple(chinese), catalogues.exemptions(entry)))
    return found


def problems(path: Path = CATALOGUE) -> list[str]:
    """What the translations of the catalogue at ``path`` broke, by message."""
    found = []
    for english, chinese, exempt in translations(path):
        for text in english:
            found += [f"{_label(english[0])}: {problem}" for problem in
                      rules.message_problems(text, chinese[0], exempt)]
    return found


def compiled() -> bytes:
    """The catalogue compiled (babel's ``compile``): its translated, not fuzzy entries."""
    buffer = io.BytesIO()
    mofile.write_mo(buffer, catalogues.read(CATALOGUE), use_fuzzy=False)
    return buffer.getvalue()


def write_compiled() -> Path:
    COMPILED.parent.mkdir(parents=True, exist_ok=True)
    COMPILED.write_bytes(compiled())
    return COMPILED


def _contents(data: bytes) -> dict:
    return {(m.id if isinstance(m.id, str) else tuple(m.id)): m.string
            for m in mofile.read_mo(io.BytesIO(data)) if m.id}


def stale() -> list[str]:
    """Why the committed compiled catalogue is not the catalogue's, if it is not."""
    if not COMPILED.is_file():
        return [f"{COMPILED.relative_to(REPO_ROOT)} is missing"]
    if _contents(COMPILED.read_bytes()) != _contents(compiled()):
        return [f"{COMPILED.relative_to(REPO_ROOT)} differs from {CATALOGUE.name} compiled"]
    return []
