"""What a translation must keep, and the glossary's terms.

``problems(unit, chinese, exempt)`` lists what is wrong with one translated text:

- a code cell: its code (every token but comments and docstrings) must be the English cell's;
- a markdown cell: the same formulas (``$...$``, ``$$...$$``), inline code, link and image
  targets, the same code blocks (a Python block may translate its comments) and the same
  headings (levels, in order: the site's sections and the language switcher rely on it);
- a figure label or a page's paragraph: the same ``{placeholders}``;
- a message of the public tests or the grader (``message_problems``): the same ``{fields}``
  (with their conversions and formats; a field may be used more or fewer times), and every code
  word of the English (a name with an underscore or a dot, such as ``box_confidence`` or
  ``tf.maximum``, a CamelCase name such as ``GlorotUniform``, a keyword argument, a number, a
  quoted string) kept as it is;
- every text: each English term of the glossary (``locale/zh_CN/glossary.md``) that it uses is
  rendered by the glossary's Chinese term, unless the entry's translator comment
  ``glossary-exempt: term, ...`` says the word is not the term there.
"""

from __future__ import annotations

import functools
import re
import string
import textwrap
import tokenize
from dataclasses import dataclass

from course.translation import GLOSSARY
from course.translation.units import Unit, code_tokens, words_of_code

FENCE = re.compile(r"^[ \t]*(```+|~~~+)([^\n]*)\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.S)
CODE_SPAN = re.compile(r"`[^`]+`")
LINK_TARGET = re.compile(r"\]\(([^)\s]+)[^)]*\)")
HEADING = re.compile(r"^(#{1,6})\s", re.M)
HTML_TAG = re.compile(r"<[^>]+>")
PLACEHOLDER = re.compile(r"\{[A-Za-z_]\w*\}")  # str.format fields of labels and pages
FIELD = re.compile(r"\{[^{}]*\}")  # a message's str.format field: {name!r}, {value:.4f}
CODE_WORD = re.compile(
    r"`[^`]+`"  # code spans
    r"|\"[^\"\s]+\"|'[^'\s]+'"  # quoted strings: "max", 'mallory'
    r"|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+"  # dotted names: tf.maximum
    r"|[A-Za-z0-9]*_[A-Za-z0-9_]*"  # names with an underscore: box_confidence, n_H, __init__
    r"|[A-Za-z_][A-Za-z0-9_]*(?==)"  # keyword arguments: strides=(2, 2)
    r"|\b[A-Z]?[a-z]+[A-Z][A-Za-z0-9]*"  # CamelCase names: GlorotUniform, ReLU, NumPy
    r"|\b[A-Za-z]+[0-9][A-Za-z0-9]*"  # names with a digit: Conv2D, b3, VGG19
    r"|(?<![\w.])[0-9]+(?:\.[0-9]+)?")  # numbers


@dataclass(frozen=True)
class Term:
    """One English term of the glossary (lower case, hyphens as spaces) and the Chinese words
    that render it (any one will do)."""

    english: str
    chinese: tuple[str, ...]


def _items(cell: str) -> list[list[str]]:
    """A glossary cell's items, each with its alternatives: "filter (kernel)" gives
    [["filter", "kernel"]]; "forward / backward propagation" gives [["forward propagation"],
    ["backward propagation"]] (a shared last word is given to single words before it)."""
    items = []
    for part in cell.split(","):
        names = [n.strip() for n in part.split(" / ")]
        if len(names) > 1 and all(len(n.split()) == 1 for n in names[:-1]) \
                and len(names[-1].split()) > 1:
            tail = names[-1].split(" ", 1)[1]
            names = [f"{n} {tail}" for n in names[:-1]] + [names[-1]]
        for name in names:
            main, _, alternative = name.partition("(")
            items.append([w for w in (main.strip(), alternative.rstrip(") ").strip()) if w])
    return items


def _normal(text: str) -> str:
    """English text as the terms are matched: lower case, quotes dropped, hyphens as spaces."""
    return re.sub(r"[\"“”]", "", text.lower().replace("-", " "))


@functools.lru_cache(maxsize=1)
def glossary() -> tuple[Term, ...]:
    """The terms of the glossary's table, longest first. When a row's English and Chinese
    columns have as many items, each item is rendered by its own Chinese item; otherwise by
    any Chinese word of the row. "filter bank: 滤波器组" after a ";" is a term of its own."""
    terms = []
    for line in GLOSSARY.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("English", "") or set(cells[0]) <= set("-: "):
            continue
        english, chinese = cells[0], cells[1]
        main, *extra = chinese.split(";")
        for pair in extra:
            name, _, rendering = pair.partition(":")
            terms.append(Term(_normal(name.strip()), (rendering.strip(),)))
        english_items, chinese_items = _items(english), _items(main)
        anywhere = tuple(w for item in chinese_items for w in item)
        for index, item in enumerate(english_items):
            rendering = (tuple(chinese_items[index]) if len(english_items) == len(chinese_items)
                         else anywhere)
            terms += [Term(_normal(name), rendering) for name in item]
    return tuple(sorted(terms, key=lambda t: -len(t.english)))


def _pattern(term: str) -> re.Pattern:
    return re.compile(r"\b" + re.escape(term).replace(r"\ ", r"\s+") + r"(?:s|es)?\b")


def prose(text: str) -> str:
    """The words of a markdown text: without code blocks, inline code, formulas, link targets
    and HTML tags."""
    for pattern in (FENCE, MATH, CODE_SPAN, HTML_TAG):
        text = pattern.sub(" ", text)
    return LINK_TARGET.sub("]", text)


def _words(unit: Unit, text: str) -> str:
    if unit.kind == "figure":
        return text
    if unit.kind == "code":
        return words_of_code(text)
    return prose(text)


def glossary_problems(english: str, chinese: str, exempt: frozenset[str] = frozenset()
                      ) -> list[str]:
    """The glossary terms the English words use that the Chinese words do not render."""
    left, found = _normal(english), []
    for term in glossary():
        pattern = _pattern(term.english)
        if pattern.search(left):
            left = pattern.sub(" ", left)
            if term.english not in exempt and term not in found:
                found.append(term)
    chinese = chinese.lower()
    return [f"glossary: {term.english!r} must read {' or '.join(term.chinese)}"
            for term in found if not any(w.lower() in chinese for w in term.chinese)]


def _fences(text: str) -> list[tuple[str, str]]:
    return [(info.strip(), body) for _, info, body in FENCE.findall(text)]


def _same_block(info: str, english: str, chinese: str) -> bool:
    if info in ("python", "py"):
        try:
            return code_tokens(textwrap.dedent(english)) == code_tokens(textwrap.dedent(chinese))
        except (SyntaxError, tokenize.TokenError):
            pass
    return english == chinese


def markdown_problems(english: str, chinese: str) -> list[str]:
    """What a translated markdown cell changed that it must keep."""
    found = []
    for name, pattern in (("formulas", MATH), ("inline code", CODE_SPAN),
                          ("link targets", LINK_TARGET)):
        source = FENCE.sub(" ", english) if name != "link targets" else english
        target = FENCE.sub(" ", chinese) if name != "link targets" else chinese
        if name == "inline code":
            source, target = MATH.sub(" ", source), MATH.sub(" ", target)
        english_set = {" ".join(x.split()) for x in pattern.findall(source)}
        chinese_set = {" ".join(x.split()) for x in pattern.findall(target)}
        lost, added = english_set - chinese_set, chinese_set - english_set
        if lost or added:
            found.append(f"{name} differ: only in the English {sorted(lost)}, only in the "
                         f"Chinese {sorted(added)}")
    english_fences, chinese_fences = _fences(english), _fences(chinese)
    if len(english_fences) != len(chinese_fences) or not all(
            a[0] == b[0] and _same_block(a[0], a[1], b[1])
            for a, b in zip(english_fences, chinese_fences)):
        found.append("code blocks differ (only a Python block's comments may be translated)")
    levels = [len(h) for h in HEADING.findall(FENCE.sub(" ", english))]
    if levels != [len(h) for h in HEADING.findall(FENCE.sub(" ", chinese))]:
        found.append(f"headings differ: the English has levels {levels}")
    return found


def problems(unit: Unit, chinese: str, exempt: frozenset[str] = frozenset()) -> list[str]:
    """What is wrong with ``chinese`` as the translation of ``unit`` (see the module doc)."""
    found = []
    if unit.kind == "code":
        try:
            if code_tokens(unit.english) != code_tokens(chinese):
                found.append("code changed: only comments and docstrings may be translated")
        except (SyntaxError, tokenize.TokenError) as error:
            found.append(f"not valid Python: {error}")
            return found
    elif unit.kind != "figure":
        found += markdown_problems(unit.english, chinese)
    if unit.kind in ("figure", "page") and (
            sorted(PLACEHOLDER.findall(unit.english)) != sorted(PLACEHOLDER.findall(chinese))):
        found.append(f"placeholders differ: the English has {PLACEHOLDER.findall(unit.english)}")
    found += glossary_problems(_words(unit, unit.english), _words(unit, chinese), exempt)
    return found


def message_problems(english: str, chinese: str, exempt: frozenset[str] = frozenset()
                     ) -> list[str]:
    """What a translated message of the public tests or the grader changed that it must keep
    (see the module docstring), and the glossary terms its words miss."""
    try:
        list(string.Formatter().parse(chinese))
    except ValueError as error:
        return [f"not a format string ({error}): write a brace as {{{{ or }}}}"]
    found = []
    if set(FIELD.findall(english)) != set(FIELD.findall(chinese)):
        found.append(f"placeholders differ: the English has {sorted(set(FIELD.findall(english)))}")
    english_words, chinese_words = FIELD.sub(" ", english), FIELD.sub(" ", chinese)
    lost = [w for w in dict.fromkeys(CODE_WORD.findall(english_words)) if w not in chinese_words]
    if lost:
        found.append(f"code words lost: {lost}")
    found += glossary_problems(CODE_WORD.sub(" ", english_words), chinese, exempt)
    return found
