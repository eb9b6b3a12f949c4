"""What a paper's first page and running headers say about it: title (the largest type on
page 1, or the PDF's Info title when it is not junk), authors (the line(s) under the title),
DOI, journal and year (where printed). Nothing is guessed: a field not found stays absent, and
each found field says where it came from."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from .layout import Line, join_lines
from .legible import CID_GLYPH
from .text import DOI, HAN_RANGES

# The title is set at least this much larger than the body text.
TITLE_SIZE_RATIO = 1.3
# The title block is within the first lines of page 1.
TITLE_SEARCH_LINES = 12
# A title from page 1 shorter than this is a fragment when the PDF's Info has a title.
MIN_TITLE_CHARS = 6

_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
_AFFILIATION = re.compile(
    r"(大学|学院|研究所|研究院|研究中心|实验室|公司|University|College|Institute|Department|School|Laboratory|"
    r"Academy|Centre|Center|@|\b\d{6}\b|E-?mail|邮箱|通讯作者|Corresponding)",
    re.I,
)
_JOURNAL = re.compile(
    r"(学报|评论|研究|杂志|期刊|通讯|论坛|科学|Journal|Letters|Review|Proceedings|Transactions|Annals|Bulletin|"
    r"Quarterly|Magazine|Conference|Symposium)",
    re.I,
)
_ABSTRACT = re.compile(r"^(##\s*)?(摘\s*要|abstract|关\s*键\s*词|keywords?)\b", re.I)
_NAME_SPLIT = re.compile(r"\s*(?:[,，、;；]|\band\b|&)\s*")
_MARKS = re.compile(r"[\d*†‡§¹²³⁴⁵⁶⁷⁸⁹⁰,，]+$")
_SECTION_NUMBER = re.compile(r"^\d{1,2}(\.\d{1,2})*\.?\s+\S")
_TITLE_SCRIPTS = {"CJK", "LATIN", "GREEK", "CYRILLIC", "HIRAGANA", "KATAKANA", "HANGUL", "FULLWIDTH"}
# Words that do not occur in personal names: "An Interactive Plotting Program" is a subtitle.
_NOT_NAME_WORDS = {"a", "an", "the", "of", "for", "and", "in", "on", "with", "to", "from", "by", "via", "using"}
_HAN_NAME = re.compile(rf"^[{HAN_RANGES}]{{2,4}}$")
_LATIN_NAME = re.compile(r"^[A-Z][a-zA-Z'’\-.]*(?:\s+[A-Z][a-zA-Z'’\-.]*){1,3}$")


def first_page_meta(
    lines: Sequence[Line],
    body: float,
    band_lines: Sequence[Line],
    info_title: str | None,
    stem: str,
) -> tuple[dict[str, object], dict[str, str], set[int]]:
    """(fields, field -> source, ids of page-1 lines that are the title block and not text)."""
    meta: dict[str, object] = {}
    sources: dict[str, str] = {}
    drop: set[int] = set()
    head = list(lines[:TITLE_SEARCH_LINES])
    title_lines = _title_lines(head, body)
    title = _clean_title(join_lines(title_lines)) if title_lines else ""
    if title and info_title and len(title) < MIN_TITLE_CHARS:
        title_lines = []  # a fragment (letters set along a curve, a logo): the Info title is better
    elif title_lines and not title:
        title_lines = []
    if title_lines:
        meta["title"] = title
        sources["title"] = "first page: the largest type"
        drop.update(id(ln) for ln in title_lines)
        authors, block = _authors(head[head.index(title_lines[-1]) + 1 :])
        if authors:
            meta["authors"] = authors
            sources["authors"] = "first page: the line under the title"
        drop.update(id(ln) for ln in block)
    elif info_title and info_title != stem:
        meta["title"] = info_title
        sources["title"] = "PDF Info title"
    running_lines = list(band_lines)
    for where, texts in (
        ("running header/footer", [ln.text for ln in running_lines]),
        ("first page", [ln.text for ln in lines[:40]]),
    ):
        joined = "\n".join(texts)
        if "doi" not in meta and (m := DOI.search(joined)):
            meta["doi"] = m.group(1).rstrip(".")
            sources["doi"] = where
    journal = _journal(running_lines)
    if journal:
        meta["journal"] = journal
        sources["journal"] = "running header/footer"
    year = _year(running_lines, lines[:40])
    if year:
        meta["year"], sources["year"] = year
    return meta, sources, drop


def _title_lines(head: Sequence[Line], body: float) -> list[Line]:
    candidates = [ln for ln in head if ln.size >= TITLE_SIZE_RATIO * body and len(ln.text.strip()) >= 4]
    if not candidates:
        return []
    size = max(ln.size for ln in candidates)
    start = next(i for i, ln in enumerate(head) if abs(ln.size - size) <= max(0.5, 0.12 * size))
    out = [head[start]]
    for ln in head[start + 1 :]:
        if abs(ln.size - size) > max(0.5, 0.12 * size) or len(out) >= 4:  # OCR'd sizes vary
            break
        out.append(ln)
    return out


def _clean_title(title: str) -> str:
    """The title without footnote marks ("…manual∗", "…介绍1", "(cid:3)"); "" when it is not a
    title: a numbered section heading ("1 Prime equation") or text that is not language."""
    title = CID_GLYPH.sub("", title)
    title = re.sub(r"[\s∗*†‡§⁄¹²³⁴⁵⁶⁷⁸⁹⁰]+$", "", title)
    title = re.sub(rf"(?<=[{HAN_RANGES}])\d$", "", title).strip()
    if _SECTION_NUMBER.match(title) or not _readable(title):
        return ""
    return title


def _readable(text: str) -> bool:
    """Every letter in a script of Chinese or Western papers, no unassigned, private-use or
    combining code points: a short title cannot be judged by frequencies (rag/legible.py)."""
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Co", "Cn", "Cs", "Mn") or ch == "\ufffd":
            return False
        if ch.isalpha() and unicodedata.name(ch, "?").split(" ")[0] not in _TITLE_SCRIPTS:
            return False
    return True


def _authors(after: Sequence[Line]) -> tuple[list[str], list[Line]]:
    """Names on the lines right under the title, up to the abstract; the lines of names and
    affiliations are the title block."""
    names: list[str] = []
    block: list[Line] = []
    for ln in after[:6]:
        text = ln.text.strip()
        if _ABSTRACT.match(text):
            break
        if _AFFILIATION.search(text) or text.startswith(("(", "（", "1.", "1 ")) and _AFFILIATION.search(text):
            block.append(ln)
            continue
        found = [_clean_name(p) for p in _NAME_SPLIT.split(text) if p.strip()]
        found = [n for n in found if n]
        if found and all(_HAN_NAME.match(n.replace(" ", "")) or _is_latin_name(n) for n in found):
            if names and block:  # names after affiliations: a second title block (an English one)
                break
            names += found
            block.append(ln)
            continue
        break
    return names, block


def _is_latin_name(text: str) -> bool:
    return bool(_LATIN_NAME.match(text)) and not any(w.lower() in _NOT_NAME_WORDS for w in text.split())


def _clean_name(part: str) -> str:
    part = _MARKS.sub("", part.strip()).strip()
    return re.sub(r"\s+", " ", part)


def _journal(running_lines: Sequence[Line]) -> str | None:
    for ln in running_lines:
        text = DOI.sub("", ln.text)
        text = re.sub(r"DOI:?", "", text, flags=re.I)
        text = re.sub(r"\d+(\s*[,，(（)）:：\-–]\s*\d*)*", " ", text)
        text = re.sub(r"\s+", " ", text).strip(" ,.;:|·—-")
        if 2 <= len(text) <= 80 and _JOURNAL.search(text):
            return text
    return None


def _year(running_lines: Sequence[Line], first: Sequence[Line]) -> tuple[int, str] | None:
    for ln in running_lines:
        if m := _YEAR.search(DOI.sub("", ln.text)):
            return int(m.group(1)), "running header/footer"
    for ln in first:
        if re.search(r"©|copyright|received|收稿|published|出版", ln.text, re.I) and (m := _YEAR.search(ln.text)):
            return int(m.group(1)), "first page"
    return None
