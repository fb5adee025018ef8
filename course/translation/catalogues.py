"""Gettext catalogues of the Chinese edition: extract (update from the English), read, report.

``update(path, units)`` brings a catalogue in step with its English units:

- an entry whose context and English are unchanged keeps its translation;
- an entry whose English changed (same context: the same cell, or for figure labels and page
  paragraphs the most similar English of the same context) keeps its old translation, marked
  fuzzy, with the previous English beside it (``#| msgid``), so the translator sees the diff;
- a new text gets an empty entry; an entry no text needs any more becomes obsolete (``#~``).

``status(path, units)`` says, without writing anything, what is missing (no translation),
fuzzy (the English changed since it was translated) or obsolete, by context. The catalogues are
babel's ``.po`` files, one line per line of text, so any PO editor (or a text editor) works.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from babel.messages import pofile
from babel.messages.catalog import Catalog, Message

from course.translation import LANGUAGE
from course.translation.units import Unit

HEADER = ("# Simplified Chinese (zh_CN) of the cnn-course {what}.\n"
          "# Translate msgstr; `python -m course translations extract` updates this file from "
          "the English,\n# `python -m course translations --check` says what is left "
          "(locale/zh_CN/README.md).")
FUZZY = "fuzzy"
# A translator's comment "glossary-exempt: positive, negative" says that these English words
# are not the glossary's terms in this entry (a positive number is not a positive example).
EXEMPT = re.compile(r"^\s*glossary-exempt:\s*(.+)$")


def english_hash(text: str) -> str:
    """The short sha256 of an English text, kept beside its entry."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Entry:
    """One entry of a catalogue as the course reads it."""

    context: str
    english: str
    chinese: str
    fuzzy: bool = False
    previous: str | None = None  # the English it translated, when fuzzy
    exempt: frozenset[str] = frozenset()  # glossary terms that are not terms here


@dataclass
class Status:
    """What a catalogue lacks, by context: missing, fuzzy and obsolete entries."""

    path: Path
    missing: list[str] = field(default_factory=list)  # never translated
    changed: list[str] = field(default_factory=list)  # the English changed; extract not run
    fuzzy: list[str] = field(default_factory=list)  # the English changed; extract run
    obsolete: list[str] = field(default_factory=list)  # no English text needs it any more

    @property
    def current(self) -> bool:
        return not (self.missing or self.changed or self.fuzzy or self.obsolete)

    def lines(self) -> list[str]:
        """One line per problem, for a report."""
        return ([f"missing (not translated): {x}" for x in self.missing]
                + [f"changed (the English changed; run extract, then update the translation): "
                   f"{x}" for x in self.changed]
                + [f"fuzzy (the English changed; update the translation and remove the fuzzy "
                   f"flag): {x}" for x in self.fuzzy]
                + [f"obsolete (delete the entry): {x}" for x in self.obsolete])


def _previous(message: Message) -> str | None:
    """The previous English of a fuzzy entry. Babel writes it in "#|" comment lines wrapped at
    spaces (even inside its quoted strings) and reads them back as translator's comments: the
    lines are joined with the space the wrapping took away, and the strings decoded."""
    lines = [c[1:].strip() for c in message.user_comments if c.startswith("|")]
    if not lines:
        return None
    text = " ".join(lines).removeprefix("msgid").strip()
    return "".join(ast.literal_eval(f'"{part}"')
                   for part in re.findall(r'"((?:[^"\\]|\\.)*)"', text))


def _user_comments(message: Message) -> list[str]:
    return [c for c in message.user_comments if not c.startswith("|")]


def read(path: Path) -> Catalog:
    with open(path, "rb") as handle:
        return pofile.read_po(handle, locale=LANGUAGE)


def exemptions(message: Message) -> frozenset[str]:
    """The glossary terms that its translator's comment says are not terms in this entry."""
    return frozenset(term.strip().lower() for c in message.user_comments
                     if (m := EXEMPT.match(c)) for term in m.group(1).split(","))


def entries(path: Path) -> dict[tuple[str, str], Entry]:
    """{(context, English): entry} of the catalogue's current (not obsolete) entries."""
    result = {}
    for message in read(path):
        if not message.id:
            continue
        result[message.context, message.id] = Entry(
            message.context, message.id, message.string or "", FUZZY in message.flags,
            _previous(message), exemptions(message))
    return result


def translations(path: Path) -> dict[tuple[str, str], str]:
    """{(context, English): Chinese} of the translated, not fuzzy entries."""
    return {key: e.chinese for key, e in entries(path).items() if e.chinese and not e.fuzzy}


def new_catalogue(what: str) -> Catalog:
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return Catalog(locale=LANGUAGE, project="cnn-course", version="1",
                   header_comment=HEADER.format(what=what), msgid_bugs_address="",
                   last_translator="", language_team=LANGUAGE, creation_date=now,
                   revision_date=now, fuzzy=False)


def _match(old: dict, unit: Unit, used: set, contexts: dict[str, int]) -> tuple | None:
    """The key of the old entry that translated an earlier version of ``unit``: the same
    context's only entry when the context names one text (a cell), else the most similar
    English of that context (a figure label, a page paragraph)."""
    candidates = [key for key, message in old.items() if key[0] == unit.context
                  and key not in used and message.string]
    if not candidates:
        return None
    if contexts[unit.context] == 1:
        return candidates[0] if len(candidates) == 1 else None
    close = difflib.get_close_matches(unit.english, [key[1] for key in candidates], 1, 0.6)
    return next((key for key in candidates if close and key[1] == close[0]), None)


def update(path: Path, units: list[Unit], what: str) -> Status:
    """Write the catalogue at ``path`` in step with ``units`` (see the module docstring);
    return what it then lacks."""
    catalogue = read(path) if path.is_file() else new_catalogue(what)
    old = {(m.context, m.id): m for m in catalogue if m.id}
    new = new_catalogue(what)
    new.creation_date, new.revision_date = catalogue.creation_date, catalogue.revision_date
    contexts: dict[str, int] = {}
    for unit in units:
        contexts[unit.context] = contexts.get(unit.context, 0) + 1
    used: set = set()
    for unit in units:
        key = (unit.context, unit.english)
        flags, string, comments, previous = set(), "", [], None
        if key in old:
            used.add(key)
            string, flags = old[key].string, set(old[key].flags)
            comments, previous = _user_comments(old[key]), _previous(old[key])
        elif (earlier := _match(old, unit, used, contexts)) is not None:
            used.add(earlier)
            string, flags, comments = old[earlier].string, {FUZZY}, _user_comments(old[earlier])
            previous = _previous(old[earlier]) if FUZZY in old[earlier].flags else earlier[1]
        message = new.add(unit.english, string, context=unit.context, flags=flags,
                          auto_comments=[unit.note, f"English sha256 {english_hash(unit.english)}"],
                          user_comments=comments,
                          locations=[unit.location] if unit.location else [])
        if previous is not None and FUZZY in flags:
            message.previous_id = [previous]
    for key, message in old.items():
        if key not in used and message.string:
            new.obsolete[key] = Message(message.id, message.string, context=message.context)
    for key, message in catalogue.obsolete.items():
        if key not in new.obsolete and (message.context, message.id) not in used:
            new.obsolete[key] = message
    write(path, new)
    return status(path, units)


def write(path: Path, catalogue: Catalog, include_lineno: bool = True) -> None:
    """Write a catalogue as the course keeps them: one line of the file per line of text
    (without the line numbers of the locations, with ``include_lineno`` False)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    pofile.write_po(buffer, catalogue, width=0, include_previous=True,
                    include_lineno=include_lineno)
    path.write_bytes(buffer.getvalue())


def status(path: Path, units: list[Unit]) -> Status:
    """What the catalogue at ``path`` lacks for ``units`` (nothing is written)."""
    result = Status(path)
    catalogue = read(path)
    have = {(m.context, m.id): m for m in catalogue if m.id}
    wanted = {(u.context, u.english) for u in units}
    unmatched = {key[0] for key in have if key not in wanted}
    for unit in units:
        message = have.get((unit.context, unit.english))
        label = _label(unit.context, unit.english)
        if message is None and unit.context in unmatched:
            result.changed.append(label)
        elif message is None or not message.string:
            result.missing.append(label)
        elif FUZZY in message.flags:
            result.fuzzy.append(label)
    changed = {label.partition(":")[0] for label in result.changed}
    result.obsolete = [_label(*key) for key in have
                       if key not in wanted and key[0] not in changed]
    result.obsolete += [_label(m.context, m.id) for m in catalogue.obsolete.values()]
    return result


def _label(context: str, english: str) -> str:
    """How a report names an entry: the cell id, or the context and the text's start."""
    first = english.strip().splitlines()[0] if english.strip() else ""
    return f"{context}: {first[:60]!r}"
