"""Sphinx configuration of the course site (MyST-NB notebooks, the book theme).

`python -m course site` copies this folder into a staging folder, adds the notebooks, their
figures and MathJax (installed with npm from package-lock.json), and runs Sphinx there. The
values that differ between the student and the instructor site (`project`, the announcement)
come from `course/authoring/site.py` as configuration overrides.

The student site is built twice, in English and in Chinese (`zh/`): the staging folder's
`_languages.json` gives the page's language and where the other language's pages are. Each
page then starts with a link to the same page in the other language (to its landing page when
the page is not translated yet), and every section gets a second id, `section-<n>` (its place in
the page), the same in both languages: `_static/languages.js` makes the link lead to the
section being read.
"""

import json
import logging
from pathlib import Path

from docutils import nodes

project = "cnn-course"
author = "cnn-course"
copyright = "cnn-course"

extensions = ["myst_nb", "sphinx_design"]
suppress_warnings = ["myst.header"]  # notebooks may skip heading levels
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
root_doc = "index"

# The notebooks arrive with their outputs; the builder never runs them.
nb_execution_mode = "off"
# Standard error (TensorFlow and download logs with the local paths of the machine that built
# the site) is not shown.
nb_output_stderr = "remove"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]

html_theme = "sphinx_book_theme"
html_title = "Convolutional networks"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
}
# Without a default mode the theme's script logs "Got invalid theme mode" on a first visit; the
# notebooks' figures are drawn on white.
html_context = {"default_mode": "light"}
html_show_sourcelink = False
html_copy_source = False

# MathJax 3 is served from the site itself (_static/mathjax/), never from a CDN. `textmacros`
# makes \_ and the other text-mode macros work inside \text{...} (e.g. \text{pos\_dist}).
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {
    "loader": {"load": ["[tex]/textmacros"]},
    "tex": {"packages": {"[+]": ["textmacros"]}},
}

# The page's language and the other language's pages (the student site only).
_LANGUAGES_FILE = Path(__file__).with_name("_languages.json")
LANGUAGES = json.loads(_LANGUAGES_FILE.read_text()) if _LANGUAGES_FILE.is_file() else None
if LANGUAGES:
    language = LANGUAGES["language"]
    html_js_files = ["languages.js"]
    exclude_patterns.append("_languages.json")
    if language == "zh_CN":
        import jieba  # Sphinx's Chinese search splits words with it

        jieba.setLogLevel(logging.WARNING)  # not its notes on loading its dictionary


def _other_language(app, doctree, docname) -> None:
    """Number the sections and put the link to the other language's page first in the page."""
    sections = list(doctree.findall(nodes.section))
    for number, section in enumerate(sections):
        section["ids"].append(f"section-{number}")
    other = LANGUAGES["other"]
    target = docname if docname in other["docs"] else "index"
    href = "../" * docname.count("/") + other["prefix"] + target + ".html"
    link = (f'<p class="language-switch"><a class="language-switch" href="{href}" '
            f'hreflang="{other["lang"]}" lang="{other["lang"]}">{other["label"]}</a></p>')
    (sections[0] if sections else doctree).insert(0, nodes.raw("", link, format="html"))


def setup(app):
    if LANGUAGES:
        app.connect("doctree-resolved", _other_language)
    if LANGUAGES and LANGUAGES["language"] == "zh_CN":
        from sphinx.search.zh import SearchChinese

        class ChineseSearch(SearchChinese):
            """Sphinx 9.0's Chinese search ends language_data.js with `window.Stemmer =
            ChineseStemmer`, a class its (English) stemmer file does not define, and search
            stops on a ReferenceError (sphinx-doc/sphinx issue 14229, fixed after 9.0 by pull
            request 14416): name the English stemmer it ships."""

            language_name = "English"

        app.add_search_language(ChineseSearch)
