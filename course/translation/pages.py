"""The Chinese words of the site and of the student distribution: ``locale/zh_CN/pages.po``.

Its entries: each paragraph of the landing page (``site/index.md``) and of the student README
(``course/authoring/student_release.py``), the assignments' titles and the site's own words
(``SITE_WORDS``). A document is translated paragraph by paragraph (``translate``): a paragraph
without a current translation stays English, as in a notebook.
"""

from __future__ import annotations

import re

from course.assignments import REPO_ROOT, Assignment
from course.translation import LOCALE_DIR, catalogues
from course.translation.units import Unit

CATALOGUE = LOCALE_DIR / "pages.po"
LANDING_PAGE = REPO_ROOT / "site" / "index.md"
LANDING = "site/index.md"  # the contexts of the entries
README = "student README"
TITLES = "assignment title"
SITE = "site"
# The landing page's place for the student README's set-up and work sections (translated as the
# README's paragraphs), which the site puts there.
STUDENT_GUIDE = "<!-- the student README's set-up and work sections -->"
# The site's own words: its title, the landing page's cards and table of contents, the note of
# when the outputs were computed.
SITE_WORDS = ("Convolutional networks", "Assignments", "Graded functions: {functions}",
              "a figure of {title}",
              # the note under an assignment page's title (course/authoring/site.py)
              "The outputs on this page are those of the reference solution, computed on {date} "
              "in {mode}, with TensorFlow {tensorflow} and Keras {keras}; the notebook ran from "
              "the top in {took}.",
              "full mode (the notebook's own settings: full training, full-size images)",
              "fast mode (`CNN_COURSE_FAST=1`: less training, smaller images)",
              "{minutes} minutes", "{seconds} seconds")
_BLANK = re.compile(r"^\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def paragraphs(text: str) -> list[str]:
    """The blocks of a Markdown text separated by blank lines (a code block stays whole)."""
    blocks, current, fenced = [], [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        if _BLANK.match(line) and not fenced:
            if current:
                blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _readme() -> str:
    from course.authoring.student_release import GUIDE, README

    return README + GUIDE


def units(assignments: list[Assignment]) -> list[Unit]:
    """The entries the pages' catalogue needs."""
    found = [Unit(LANDING, block, "page") for block in paragraphs(LANDING_PAGE.read_text())
             if block != STUDENT_GUIDE]
    found += [Unit(README, block, "page") for block in paragraphs(_readme())]
    found += [Unit(TITLES, a.title, "page") for a in assignments]
    found += [Unit(SITE, words, "page") for words in SITE_WORDS]
    return list({(u.context, u.english): u for u in found}.values())


def translate(text: str, context: str) -> str:
    """``text`` (Markdown) with each paragraph replaced by its current translation."""
    done = catalogues.translations(CATALOGUE)
    return "\n\n".join(done.get((context, block), block) for block in paragraphs(text)) + "\n"


def words(english: str, context: str = SITE) -> str:
    """The Chinese of one of the site's words or an assignment's title (English when it has
    no current translation)."""
    return catalogues.translations(CATALOGUE).get((context, english), english)
