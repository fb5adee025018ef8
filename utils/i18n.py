"""The course's messages in the student's language: the public tests' failures and hints, the
grader's verdicts.

Every message goes through gettext: ``_("...")`` (``ngettext`` where a count decides the
English form), with ``{placeholders}`` filled by ``.format`` after the translation, and
``N_("...")`` marks a text that is translated where it is shown (a mistake's cause and fix,
kept in a table). The translations are those of the course's ``locale/zh_CN/messages.po``,
compiled into ``utils/locale/<language>/LC_MESSAGES/cnn_course.mo`` when the instructor makes
the release; a message without a translation stays English.

The language, first that applies:

1. the one the grader speaks while it grades a submission (:func:`speaking`: the language of
   the submission's edition, whatever the grading machine's settings);
2. ``CNN_COURSE_LANG`` (``zh_CN``, or ``en``), when set;
3. the notebook's (:func:`set_notebook_language`: the Chinese notebooks' first cell calls it);
4. English.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import os
from pathlib import Path
from typing import Iterator

DOMAIN = "cnn_course"  # the catalogue's file name, cnn_course.mo
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGE_ENV = "CNN_COURSE_LANG"
ENGLISH = "en"

_notebook_language: str | None = None
_grading_language: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "grading_language", default=None)


def set_notebook_language(language: str | None) -> None:
    """Say which language the notebook is in (``"zh_CN"``; None: none said): its checks speak
    it, unless ``CNN_COURSE_LANG`` says otherwise."""
    global _notebook_language
    _notebook_language = language


@contextlib.contextmanager
def speaking(language: str) -> Iterator[None]:
    """While the block runs (in this thread or task), messages are in ``language``, whatever
    the environment or a notebook set: the grader's choice, the submission's edition."""
    token = _grading_language.set(language)
    try:
        yield
    finally:
        _grading_language.reset(token)


def language() -> str:
    """The language messages are in now (see the module docstring)."""
    return (_grading_language.get() or os.environ.get(LANGUAGE_ENV) or _notebook_language
            or ENGLISH)


@functools.lru_cache(maxsize=8)
def _translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language``; English (the messages as written) when there
    is none."""
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def _(message: str) -> str:
    """``message`` in the current language."""
    return _translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for the count ``n``, in the current language."""
    return _translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """``message`` unchanged, marked for the catalogue: it is translated where it is shown."""
    return message
