"""Sphinx configuration of the course site (MyST-NB notebooks, the book theme).

`python -m course site` copies this folder into a staging folder, adds the notebooks, their
figures and MathJax (installed with npm from package-lock.json), and runs Sphinx there. The
values that differ between the student and the instructor site (`project`, the announcement)
come from `course/authoring/site.py` as configuration overrides.
"""

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
html_show_sourcelink = False
html_copy_source = False

# MathJax 3 is served from the site itself (_static/mathjax/), never from a CDN. `textmacros`
# makes \_ and the other text-mode macros work inside \text{...} (e.g. \text{pos\_dist}).
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {
    "loader": {"load": ["[tex]/textmacros"]},
    "tex": {"packages": {"[+]": ["textmacros"]}},
}
