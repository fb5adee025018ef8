"""The Chinese edition of the course, made from the English sources and kept in step with them.

The English source notebooks stay the source of truth. Each translated notebook has a gettext
catalogue, ``locale/zh_CN/notebooks/<assignment id>.po`` (read and written with babel): one
entry per translatable text, ``msgctxt`` the cell's id (``figure`` for a figure's label),
``msgid`` the English text itself and ``msgstr`` its Chinese version. Since an entry holds the
English it translates, a changed English cell no longer matches its entry: ``extract`` carries
the old translation over, marked fuzzy with the previous English beside it, and ``check`` names
the cell. The landing page, the student README and the site's own words live in
``locale/zh_CN/pages.po`` in the same way, one entry per paragraph.

- ``units``: what is translated (markdown cells; the comments and docstrings of answer, demo and
  setup cells; figure labels; page paragraphs) and the code comparison that proves a translated
  code cell runs the same code;
- ``catalogues``: extract (update a catalogue from the English), read, and report what is
  missing, fuzzy or obsolete;
- ``rules``: what a translation must keep (code, formulas, code spans, links, headings) and the
  glossary's terms (``locale/zh_CN/glossary.md``);
- ``notebooks``: the Chinese source notebook of an assignment, generated from its English source
  and catalogue (never edited), which the release turns into the Chinese student notebooks.
"""

from __future__ import annotations

from course.assignments import REPO_ROOT

LANGUAGE = "zh_CN"  # the notebooks' metadata "language", CNN_COURSE_LANG, Sphinx's language
FOLDER = "zh"  # the Chinese edition's folder name: notebooks/zh/, images/zh/, the site's zh/
LOCALE_DIR = REPO_ROOT / "locale" / LANGUAGE
NOTEBOOK_CATALOGUES = LOCALE_DIR / "notebooks"
GLOSSARY = LOCALE_DIR / "glossary.md"
