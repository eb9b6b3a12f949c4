"""Journal-style PDF fixtures of the five corpus papers, for testing a PDF reader.

    python scripts/pdf_fixtures.py [--out DIR] [--force] [--check]

Each paper is typeset with xelatex as an 电子商务评论 (E-Commerce Letters) article: title block,
abstracts, keywords, numbered bold headings, footnotes, a reference list, a running header with
the journal and DOI and a printed page number that starts at a journal-like value. One folder per
variant (mixed styles, whole corpus in one style, scanned, bad inputs); each has a truth.json.

The truth is computed from LaTeX, never from PDF text: every sentence is wrapped in a pair of
\\zlabel marks and its start and end pages (printed and absolute) are read back from the .aux.
One xelatex run is enough for that: the .aux is written at shipout and nothing in the text
refers back to a label, so a second run would change nothing.

Cached: the output folder carries a stamp (hash of this file, the cleaner, the corpus and the
variant list); a matching stamp means nothing to do. The set is built in a temporary folder and
renamed into place, so a killed build never leaves half a fixture set.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
DEFAULT_OUT = ROOT / "build" / "pdf-fixtures"
JOURNAL = "电子商务评论"
JOURNAL_EN = "E-Commerce Letters"
YEAR = 2025
MAX_PROCESSES = 2
SCAN_DPI = 150
TRUNCATE_AT = 0.6
PASSWORD = "fixture-user"
JUNK_TITLE = "Microsoft Word - draft3.docx"

logger = logging.getLogger("pdf_fixtures")


# --------------------------------------------------------------------------- what is typeset


@dataclass(frozen=True)
class Meta:
    """What the text files do not carry. Titles follow each paper's own headings; authors and
    affiliations are fictional except 001's, which its running header and the catalog name."""

    title: str
    authors: tuple[tuple[str, int], ...]  # (name, affiliation number)
    affiliations: tuple[str, ...]
    doi: str
    keywords: tuple[str, ...]
    keywords_en: tuple[str, ...]
    funding: str
    note: str  # an explanatory footnote in the body


META: dict[str, Meta] = {
    "000_0ea6e26401eae5d1": Meta(
        "中国跨境电商发展的困境及其对策研究",
        (("李明远", 1),),
        ("东岳财经学院国际经济与贸易学院，山东 济南",),
        "10.12677/ecl.2025.1461855",
        ("跨境电商", "现实困境", "对策研究"),
        (),  # its own English keywords are in the text
        "基金项目：东岳财经学院青年科研基金项目（DY2024Q017）。",
        "本文所称跨境电商，指分属不同关境的交易主体通过电子商务平台达成交易、进行支付结算，并通过跨境物流送达商品的国际商业活动。",
    ),
    "001_4139313f3243f7e4": Meta(
        "数字经济视域下跨境电商的发展机遇、现状与路径研究",
        (("郭冉", 1),),
        ("北川大学经济管理学院，江苏 南京",),
        "10.12677/ecl.2025.1461720",
        ("数字经济", "跨境电商", "发展机遇", "发展路径"),
        ("Digital Economy", "Cross-Border E-Commerce", "Development Opportunities", "Development Path"),
        "基金项目：北川大学人文社科研究项目（BC2024SK032）。",
        "数字经济与实体经济深度融合的提法见于近年政府工作报告，本文在宽泛意义上使用这一概念。",
    ),
    "002_268bfb1f0d63e3bd": Meta(
        "数字经济背景下我国跨境电商发展现状、挑战与对策",
        (("张晓宁", 1), ("王嘉", 2)),
        ("临海理工大学管理学院，浙江 宁波", "临海理工大学数字贸易研究中心，浙江 宁波"),
        "10.12677/ecl.2025.1462031",
        ("数字经济", "跨境电商", "数字贸易规则", "品牌建设"),
        ("Digital Economy", "Cross-Border E-Commerce", "Digital Trade Rules", "Brand Building"),
        "基金项目：临海理工大学数字贸易专项课题（LH2025DT05）。",
        "文中市场规模与企业数量数据均引自公开发布的行业报告，统计口径以原报告为准。",
    ),
    "003_d0102665b7b2c82a": Meta(
        "综合试验区试点政策赋能中国跨境电商高质量发展的机理与对策",
        (("陈思远", 1), ("刘雨桐", 1), ("赵可", 2)),
        ("西岭师范大学商学院，四川 成都", "西岭师范大学区域经济研究所，四川 成都"),
        "10.12677/ecl.2025.1461988",
        ("跨境电商", "综合试验区", "高质量发展", "政策效应"),
        ("Cross-Border E-Commerce", "Comprehensive Pilot Zone", "High-Quality Development", "Policy Effect"),
        "基金项目：西岭师范大学校级科研项目（XL2024YB108）。",
        "综合试验区即中国（某地）跨境电子商务综合试验区，自2015年起由国务院分批批复设立。",
    ),
    "004_af3a6016a1d3b571": Meta(
        "跨境电商高质量发展的价值意蕴、现实困境与优化路径",
        (("孙立群", 1), ("周敏", 1)),
        ("南湖政法学院经济法学院，湖北 武汉",),
        "10.12677/ecl.2025.1462104",
        ("跨境电商", "高质量发展", "法治保障", "平台监管"),
        ("Cross-Border E-Commerce", "High-Quality Development", "Rule of Law", "Platform Regulation"),
        "基金项目：南湖政法学院研究生创新项目（NH2025CX041）。",
        "本文讨论的立法、司法、执法与平台监管四个方面，对应跨境电商法治保障的主要环节。",
    ),
}

FIRST_PAGE = {  # printed number of each paper's first page, as in a journal volume
    "000_0ea6e26401eae5d1": 131,
    "001_4139313f3243f7e4": 7,
    "002_268bfb1f0d63e3bd": 45,
    "003_d0102665b7b2c82a": 210,
    "004_af3a6016a1d3b571": 1002,
}


@dataclass(frozen=True)
class Style:
    columns: int = 1
    cjk_font: str = "noto"  # "noto" (ToUnicode) | "fandol" (ctex default: no ToUnicode, Adobe-GB1 CIDs)
    sans: bool = False
    page_labels: bool = False  # hyperref writes /PageLabels from the printed numbers
    info_title: str | None = None  # "true" -> the paper's title, or a literal junk string
    strip_tounicode: bool = False  # drop /ToUnicode from the CJK font after typesetting


MIXED = {
    "000_0ea6e26401eae5d1": Style(page_labels=True, info_title="true"),
    "001_4139313f3243f7e4": Style(columns=2, cjk_font="fandol", info_title=JUNK_TITLE),
    "002_268bfb1f0d63e3bd": Style(sans=True),
    "003_d0102665b7b2c82a": Style(columns=2),
    "004_af3a6016a1d3b571": Style(cjk_font="fandol"),
}
# bad/no-unicode-map.pdf: onecol-noto's copy of this paper with /ToUnicode removed (no extractor
# can map its CJK glyphs: the reader must skip it, or OCR it when asked).
UNMAPPED = "004_af3a6016a1d3b571"
UNIFORM = {
    "onecol-noto": Style(),
    "twocol-noto": Style(columns=2),
    "twocol-fandol": Style(columns=2, cjk_font="fandol"),
}
SCANNED = ("000_0ea6e26401eae5d1", "003_d0102665b7b2c82a")  # one single-, one two-column
BOOK_CYCLES = 7


@dataclass(frozen=True)
class Sentence:
    text: str
    kind: str  # heading | abstract | abstract_en | keywords | body | footnote | references | title


@dataclass
class Paper:
    doc_id: str
    meta: Meta
    title: Sentence
    abstract: list[Sentence] = field(default_factory=list)
    abstract_en: list[Sentence] = field(default_factory=list)
    keywords: Sentence | None = None
    keywords_en: Sentence | None = None
    body: list[tuple[str, list[Sentence]]] = field(default_factory=list)  # ("heading"|"para", sentences)
    references: list[Sentence] = field(default_factory=list)
    references_placeholder: bool = False


ZH_END = "。！？；"
CLOSERS = "”’」』）)"
EN_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"(])")
LABELS = {"摘要", "Abstract", "Keywords", "关键词", "参考文献"}


def split_zh(text: str) -> list[str]:
    """Chinese sentences end at 。！？； (with any closing quote or bracket that follows)."""
    out, start, i = [], 0, 0
    while i < len(text):
        if text[i] in ZH_END:
            while i + 1 < len(text) and text[i + 1] in CLOSERS:
                i += 1
            out.append(text[start : i + 1])
            start = i + 1
        i += 1
    out.append(text[start:])
    return [s.strip() for s in out if s.strip()]


def split_en(text: str) -> list[str]:
    return [s.strip() for s in EN_SPLIT.split(text) if s.strip()]


def load_papers(corpus: Path = CORPUS) -> list[Paper]:
    from rag.catalog import load_catalog
    from rag.ingest import corpus_files, document_ids, read_paper

    catalog = load_catalog(corpus)
    files = [p for p in corpus_files(corpus) if p.suffix == ".txt"]
    ids = document_ids(files)
    return [paper_from_clean(read_paper(p, catalog, doc_id=ids[p]), META[ids[p]]) for p in files if ids[p] in META]


def paper_from_clean(clean, meta: Meta) -> Paper:  # noqa: ANN001 (rag.CleanPaper, imported lazily)
    paper = Paper(clean.paper.doc_id, meta, Sentence(meta.title, "title"))
    paper.keywords = Sentence("；".join(meta.keywords), "keywords")
    if meta.keywords_en:
        paper.keywords_en = Sentence(", ".join(meta.keywords_en), "keywords")
    for block in clean.blocks:
        text = re.sub(r"\s+", " ", clean.text[block.start : block.end]).strip()
        if block.kind == "heading" and text not in LABELS:
            paper.body.append(("heading", [Sentence(text, "heading")]))
        elif block.kind == "abstract":
            paper.abstract += [Sentence(s, "abstract") for s in split_zh(text)]
        elif block.kind == "abstract_en":
            paper.abstract_en += [Sentence(s, "abstract_en") for s in split_en(text)]
        elif block.kind == "keywords":
            paper.keywords_en = Sentence(text, "keywords")
        elif block.kind == "body":
            paper.body.append(("para", [Sentence(s, "body") for s in split_zh(text)]))
        elif block.kind == "references":
            paper.references.append(Sentence(text, "references"))
    if not paper.references:  # the text files of 001-004 lost their lists: placeholders, marked as such
        cited = max((int(n) for n in re.findall(r"\[(\d+)\]", clean.text)), default=5)
        entry = "[{n}] 测试文献{n}. 跨境电商研究占位条目（测试用，非真实文献）[J]. 示例学报, 2024({n}): {n}-{m}."
        paper.references = [
            Sentence(entry.format(n=n, m=n + 9), "references") for n in range(1, cited + 1)
        ]
        paper.references_placeholder = True
    return paper


# --------------------------------------------------------------------------- LaTeX

TEX_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def tex_escape(text: str) -> str:
    out = "".join(TEX_ESCAPES.get(c, c) for c in text)
    # TeX ligatures would change the typeset text: -- becomes a dash, `` and '' quotes.
    return out.replace("--", "-{}-").replace("``", "`{}`").replace("''", "'{}'")


class Marker:
    """Numbers sentences and wraps each in start/end labels; keeps them in typesetting order."""

    def __init__(self) -> None:
        self.sentences: list[Sentence] = []

    def __call__(self, sentence: Sentence) -> str:
        n = len(self.sentences)
        self.sentences.append(sentence)
        return rf"\zlabel{{s{n}a}}{tex_escape(sentence.text)}\zlabel{{s{n}b}}"

    def run(self, sentences: list[Sentence], sep: str = "") -> str:
        return sep.join(self(s) for s in sentences)


def heading_level(text: str) -> int:
    if re.match(r"\d+\.\d+\.\d+", text):
        return 3
    return 2 if re.match(r"\d+\.\d+|[(（]", text) else 1


def pdf_text(text: str) -> str:
    """A PDF text string in hex, UTF-16BE with its byte-order mark (any script, no escaping)."""
    return "FEFF" + text.encode("utf-16-be").hex().upper()


def preamble(paper: Paper, style: Style, first_page: int) -> str:
    fontset = "fandol" if style.cjk_font == "fandol" else "none"
    cols = "twocolumn," if style.columns == 2 else ""
    lines = [
        rf"\documentclass[{cols}a4paper,zihao=5,fontset={fontset}]{{ctexart}}",
        r"\usepackage[a4paper,hmargin=2.2cm,top=2.6cm,bottom=2.4cm,columnsep=0.8cm]{geometry}",
        r"\usepackage{zref-user,zref-abspage,fancyhdr}",
    ]
    if style.cjk_font == "noto":
        family = "Noto Sans CJK SC" if style.sans else "Noto Serif CJK SC"
        lines.append(rf"\setCJKmainfont{{{family}}}\setCJKsansfont{{Noto Sans CJK SC}}")
    # Written as xdvipdfmx specials, not with hyperref (whose xetex driver wants the pzdr font of
    # texlive-fonts-recommended): /PageLabels in the catalog, the title in the Info dictionary.
    title = paper.meta.title if style.info_title == "true" else style.info_title
    if style.page_labels:
        labels = rf"<</PageLabels <</Nums [0 <</S/D/St {first_page}>>]>>>>"  # one arabic range
        lines.append(rf"\AtBeginDocument{{\special{{pdf:put @catalog {labels}}}}}")
    if title:
        lines.append(rf"\AtBeginDocument{{\special{{pdf:docinfo <</Title <{pdf_text(title)}>>>}}}}")
    lines += [
        r"\pagestyle{fancy}\fancyhf{}\renewcommand{\headrulewidth}{0.4pt}",
        rf"\fancyhead[L]{{\small {JOURNAL} {JOURNAL_EN}}}",
        rf"\fancyhead[R]{{\small DOI: {paper.meta.doi}}}",
        r"\fancyfoot[C]{\small\thepage}",
        r"\fancypagestyle{plain}{}",
        # A heading: #1 its size; \nobreak keeps it with the paragraph that follows.
        r"\newcommand\jhead[2]{\par\addvspace{1.2ex plus .5ex}\noindent{#1\bfseries #2\par}"
        r"\nobreak\vspace{.6ex}\nobreak}",
        r"\setlength{\parindent}{2em}",
        rf"\setcounter{{page}}{{{first_page}}}",
    ]
    return "\n".join(lines)


def front_matter(paper: Paper, mark: Marker) -> str:
    meta = paper.meta
    authors = "，".join(rf"{name}\textsuperscript{{{n}}}" for name, n in meta.authors)
    affils = r"\\".join(rf"\textsuperscript{{{n}}}{a}" for n, a in enumerate(meta.affiliations, 1))
    parts = [
        r"\begin{center}",
        rf"{{\zihao{{2}}\bfseries {mark(paper.title)}\par}}\vspace{{1.2ex}}",
        rf"{{\zihao{{-4}} {authors}\par}}\vspace{{.6ex}}",
        rf"{{\small {affils}\par}}",
        r"\end{center}\vspace{1ex}",
        rf"\noindent\textbf{{摘\quad 要：}}{mark.run(paper.abstract)}\par\smallskip",
        rf"\noindent\textbf{{关键词：}}{mark(paper.keywords)}\par\medskip",  # type: ignore[arg-type]
        rf"\noindent\textbf{{Abstract: }}{mark.run(paper.abstract_en, ' ')}\par\smallskip",
    ]
    if paper.keywords_en:
        parts.append(rf"\noindent\textbf{{Keywords: }}{mark(paper.keywords_en)}\par")
    # Hans journals print the dates on page 1: the only place the year is printed.
    parts.append(rf"\smallskip\noindent{{\small 收稿日期：{YEAR}年5月12日；录用日期：{YEAR}年6月3日\par}}")
    parts.append(r"\vspace{2ex}")
    return "\n".join(parts)


def body(paper: Paper, mark: Marker) -> str:
    sizes = {1: r"\zihao{4}", 2: r"\zihao{-4}", 3: r"\zihao{-4}"}
    funding = Sentence(paper.meta.funding, "footnote")
    note = Sentence(paper.meta.note, "footnote")
    out, paras = [], 0
    for kind, sentences in paper.body:
        if kind == "heading":
            out.append(rf"\jhead{{{sizes[heading_level(sentences[0].text)]}}}{{{mark(sentences[0])}}}")
            continue
        paras += 1
        text = mark.run(sentences[:1])
        if paras == 1:  # the funding note: an unnumbered footnote on the first page of the body
            text = r"{\renewcommand\thefootnote{}\footnotetext{" + mark(funding) + "}}" + text
        if paras == 3:  # an explanatory footnote, marked after the paragraph's first sentence
            text += r"\footnote{" + mark(note) + "}"
        out.append(text + mark.run(sentences[1:]) + "\n")
    out.append(r"\jhead{\zihao{4}}{" + mark(Sentence("参考文献", "heading")) + "}")
    out.append(r"{\small\setlength{\parindent}{0pt}")
    out += [r"\hangindent=2em " + mark(ref) + r"\par" for ref in paper.references]
    out.append("}")
    return "\n".join(out)


def paper_tex(paper: Paper, style: Style, first_page: int) -> tuple[str, list[Sentence]]:
    mark = Marker()
    front = front_matter(paper, mark)
    front = rf"\twocolumn[{{{front}}}]" if style.columns == 2 else front
    doc = [preamble(paper, style, first_page), r"\begin{document}", front, body(paper, mark), r"\end{document}"]
    return "\n".join(doc) + "\n", mark.sentences


def book_tex(papers: list[Paper]) -> tuple[str, list[Sentence]]:
    """A ~300-page book: roman-numbered front matter, then the papers' bodies cycled as chapters."""
    mark = Marker()
    doc = [
        r"\documentclass[a5paper,zihao=5,fontset=none,openany]{ctexbook}",
        r"\usepackage[a5paper,hmargin=1.8cm,vmargin=2cm]{geometry}",
        r"\usepackage{zref-user,zref-abspage,fancyhdr}",
        r"\setCJKmainfont{Noto Serif CJK SC}\setCJKsansfont{Noto Sans CJK SC}",
        r"\pagestyle{fancy}\fancyhf{}\fancyhead[L]{\small 跨境电商研究文集}\fancyhead[R]{\small\leftmark}",
        r"\fancyfoot[C]{\small\thepage}\fancypagestyle{plain}{\fancyhf{}\fancyfoot[C]{\small\thepage}}",
        r"\begin{document}\frontmatter",
        r"\chapter{前言}",
        "\n\n".join(mark.run(p.abstract) for p in papers),
        r"\mainmatter",  # no table of contents: it would need a second run
    ]
    for _ in range(BOOK_CYCLES):
        for paper in papers:
            title = tex_escape(paper.meta.title)  # the optional title feeds the header, unlabelled
            doc.append(rf"\chapter[{{{title}}}]{{{mark(Sentence(paper.meta.title, 'heading'))}}}")
            for kind, sentences in paper.body:
                if kind == "heading":
                    doc.append(rf"\section*{{{mark(sentences[0])}}}")
                else:
                    doc.append(mark.run(sentences) + "\n")
    doc.append(r"\end{document}")
    return "\n".join(doc) + "\n", mark.sentences


# --------------------------------------------------------------------------- compile and read back

LABEL_LINE = re.compile(r"\\zref@newlabel\{s(\d+)([ab])\}\{(.*)\}")


def xelatex(tex: str, workdir: Path, name: str) -> tuple[Path, str]:
    """One xelatex run; returns the PDF and the .aux text. Raises with the log tail on failure."""
    (workdir / f"{name}.tex").write_text(tex, encoding="utf-8")
    cmd = ["xelatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, errors="replace")
    pdf = workdir / f"{name}.pdf"
    if proc.returncode != 0 or not pdf.exists():
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise RuntimeError(f"xelatex failed on {name}.tex in {workdir}:\n{tail}")
    log = (workdir / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    for missing in sorted(set(re.findall(r"Missing character: There is no (.)", log))):
        logger.warning("%s: no glyph for %r", name, missing)
    return pdf, (workdir / f"{name}.aux").read_text(encoding="utf-8", errors="replace")


def read_labels(aux: str) -> tuple[dict[tuple[int, str], tuple[str, int]], int]:
    """{(sentence, 'a'|'b'): (printed page, absolute page)} and the number of pages."""
    labels = {}
    for n, end, props in LABEL_LINE.findall(aux):
        page = re.search(r"\\page\{([^}]*)\}", props)
        absolute = re.search(r"\\abspage\{(\d+)\}", props)
        if page and absolute:
            labels[(int(n), end)] = (page.group(1), int(absolute.group(1)))
    last = re.search(r"\\gdef\s*\\@abspage@last\{(\d+)\}", aux)
    return labels, int(last.group(1)) if last else 0


def printed(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def sentence_rows(sentences: list[Sentence], labels: dict) -> list[dict]:
    rows = []
    for n, s in enumerate(sentences):
        start, end = labels.get((n, "a")), labels.get((n, "b"))
        if start is None or end is None:  # a label that never reached a page would be a builder bug
            raise RuntimeError(f"sentence {n} ({s.text[:20]!r}) has no page in the .aux")
        rows.append({"text": s.text, "kind": s.kind, "page": printed(start[0]), "page_end": printed(end[0]),
                     "index": start[1], "index_end": end[1]})
    return rows


QDF_DICT = re.compile(rb"\n\d+ 0 obj\n<<\n(?:(?!stream\n|endobj\n)[^\n]*\n)*?>>\nendobj", re.S)


def strip_tounicode(pdf: Path) -> None:
    """Removes /ToUnicode from the CJK fonts: text stays visible, but no extractor can map it.
    With qpdf alone (QDF text form, edit, fix-qdf, compress) so no Python PDF library is needed."""

    def drop(match: re.Match[bytes]) -> bytes:
        obj = match.group(0)
        if re.search(rb"/BaseFont /[A-Z]{6}\+\S*CJK", obj):
            return re.sub(rb"\n\s*/ToUnicode \d+ 0 R", b"", obj)
        return obj

    qdf = subprocess.run(["qpdf", "--qdf", "--object-streams=disable", str(pdf), "-"],
                         capture_output=True, check=True).stdout
    edited = QDF_DICT.sub(drop, qdf)
    fixed = subprocess.run(["fix-qdf"], input=edited, capture_output=True, check=True).stdout
    tmp = pdf.with_suffix(".fixed.pdf")
    tmp.write_bytes(fixed)
    subprocess.run(["qpdf", str(tmp), str(pdf)], check=True)  # compressed again; unused maps dropped
    tmp.unlink()


@dataclass(frozen=True)
class Job:
    variant: str
    name: str  # file stem
    style: Style | None  # None for the book
    first_page: int = 1


def run_job(job: Job, papers: dict[str, Paper], work: Path, out: Path) -> tuple[Job, dict]:
    """Typesets one PDF into out/<variant>/<name>.pdf and returns its truth entry."""
    workdir = work / job.variant / job.name
    workdir.mkdir(parents=True)
    started = time.monotonic()
    if job.style is None:
        tex, sentences = book_tex(list(papers.values()))
    else:
        tex, sentences = paper_tex(papers[job.name], job.style, job.first_page)
    pdf, aux = xelatex(tex, workdir, job.name)
    if job.style is not None and job.style.strip_tounicode:
        strip_tounicode(pdf)
    target = out / job.variant / f"{job.name}.pdf"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(pdf, target)
    labels, pages = read_labels(aux)
    logger.info("%s/%s: %d pages in %.1f s", job.variant, job.name, pages, time.monotonic() - started)
    return job, {"pages": pages, "sentences": sentence_rows(sentences, labels)}


def paper_truth(paper: Paper, job: Job, built: dict) -> dict:
    style = job.style
    assert style is not None
    title = paper.meta.title if style.info_title == "true" else style.info_title
    return {
        "file": f"{job.name}.pdf", "columns": style.columns, "cjk_font": style.cjk_font,
        "to_unicode": style.cjk_font == "noto" and not style.strip_tounicode,
        # What the CJK glyph ids decode through without ToUnicode: poppler (pdftotext) knows the
        # Adobe-GB1 collection and reads Fandol text correctly; pypdf does not; Identity maps nothing.
        "cid_ordering": "Adobe-GB1" if style.cjk_font == "fandol" else "Adobe-Identity",
        "text_layer": True, "page_labels": style.page_labels, "info_title": title,
        "first_printed_page": job.first_page, "pages": built["pages"],
        "title": paper.meta.title, "authors": [a for a, _ in paper.meta.authors],
        "affiliations": list(paper.meta.affiliations), "journal": JOURNAL, "journal_en": JOURNAL_EN,
        "year": YEAR, "doi": paper.meta.doi, "keywords": list(paper.meta.keywords),
        "keywords_en": paper.keywords_en.text.split(", ") if paper.keywords_en else [],
        "abstract": "".join(s.text for s in paper.abstract),
        "headings": [s[0].text for k, s in paper.body if k == "heading"] + ["参考文献"],
        "references_placeholder": paper.references_placeholder,
        "sentences": built["sentences"],
    }


# --------------------------------------------------------------------------- the fixture set


def jobs() -> list[Job]:
    out = [Job("bad", "book-300", None)]  # longest first, so two workers finish together
    out += [Job("mixed", d, s, FIRST_PAGE[d]) for d, s in MIXED.items()]
    out += [Job(v, d, s, FIRST_PAGE[d]) for v, s in UNIFORM.items() for d in MIXED]
    return out


def fingerprint(corpus: Path) -> str:
    digest = hashlib.sha256()
    for path in [Path(__file__), ROOT / "rag" / "ingest.py", *sorted(corpus.glob("*.txt")), corpus / "catalog.toml"]:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(repr((jobs(), SCANNED, META, FIRST_PAGE, UNMAPPED)).encode())
    return digest.hexdigest()


def scan(pdf: Path, target: Path, work: Path) -> None:
    """Renders every page to an image and packs the images into a PDF with no text layer."""
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(SCAN_DPI), "-png", str(pdf), str(work / "p")], check=True)
    images = sorted(work.glob("p-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
    subprocess.run(["img2pdf", "-o", str(target), *map(str, images)], check=True)


def scanned_and_bad(out: Path, work: Path, truth: dict) -> None:
    (out / "scanned").mkdir()
    scanned = {"variant": "scanned", "papers": {}}
    for doc_id in SCANNED:
        scan(out / "mixed" / f"{doc_id}.pdf", out / "scanned" / f"{doc_id}.pdf", work / "scan" / doc_id)
        entry = dict(truth["mixed"]["papers"][doc_id], text_layer=False, to_unicode=False,
                     page_labels=False, info_title=None, cjk_font=None, cid_ordering=None)
        scanned["papers"][doc_id] = entry
    truth["scanned"] = scanned
    bad = out / "bad"
    shutil.copy(out / "scanned" / f"{SCANNED[0]}.pdf", bad / "images-only.pdf")
    source = out / "mixed" / f"{SCANNED[0]}.pdf"
    data = source.read_bytes()
    (bad / "truncated.pdf").write_bytes(data[: int(len(data) * TRUNCATE_AT)])
    subprocess.run(["qpdf", "--encrypt", PASSWORD, "fixture-owner", "256", "--", str(source),
                    str(bad / "encrypted.pdf")], check=True)
    shutil.copy(out / "onecol-noto" / f"{UNMAPPED}.pdf", bad / "no-unicode-map.pdf")
    strip_tounicode(bad / "no-unicode-map.pdf")
    (bad / "not-a-pdf.pdf").write_bytes("这不是 PDF 文件。This is plain text named .pdf.\n".encode() * 40)
    truth["bad"]["files"] = {
        "encrypted.pdf": {"problem": "encrypted", "user_password": PASSWORD, "source": f"{SCANNED[0]}.pdf"},
        "truncated.pdf": {"problem": "truncated", "kept_fraction": TRUNCATE_AT, "source": f"{SCANNED[0]}.pdf"},
        "not-a-pdf.pdf": {"problem": "not a pdf"},
        "no-unicode-map.pdf": {"problem": "no unicode map", "source": f"onecol-noto/{UNMAPPED}.pdf"},
        "images-only.pdf": {"problem": "no text layer", "source": f"{SCANNED[0]}.pdf"},
        **truth["bad"]["files"],
    }


def book_truth(built: dict) -> dict:
    rows = built["sentences"]
    mainmatter = next(r for r in rows if r["kind"] == "heading")  # the first chapter title
    return {"problem": "long document", "pages": built["pages"],
            "front_matter_pages": mainmatter["index"] - 1, "first_arabic_index": mainmatter["index"],
            "chapters": [{"title": r["text"], "page": r["page"], "index": r["index"]}
                         for r in rows if r["kind"] == "heading" and r["text"] in {p.title for p in META.values()}]}


def build_all(out: Path, work: Path, corpus: Path) -> None:
    papers = {p.doc_id: p for p in load_papers(corpus)}
    truth: dict[str, dict] = {v: {"variant": v, "papers": {}} for v in ("mixed", *UNIFORM)}
    truth["bad"] = {"variant": "bad", "files": {}}
    with ThreadPoolExecutor(MAX_PROCESSES) as pool:  # each thread waits on one xelatex process
        results = list(pool.map(lambda j: run_job(j, papers, work, out), jobs()))
    for job, built in results:
        if job.style is None:
            truth["bad"]["files"][f"{job.name}.pdf"] = book_truth(built)
        else:
            truth[job.variant]["papers"][job.name] = paper_truth(papers[job.name], job, built)
    scanned_and_bad(out, work, truth)
    for variant, data in truth.items():
        (out / variant / "truth.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def build(out: Path = DEFAULT_OUT, *, corpus: Path = CORPUS, force: bool = False) -> Path:
    """Builds the fixture set into `out` unless its stamp is current; returns `out`."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = fingerprint(corpus)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second builder waits, then finds the stamp current
        if not force and (out / "stamp").is_file() and (out / "stamp").read_text().strip() == stamp:
            logger.info("%s is up to date", out)
            return out
        for stale in out.parent.glob(f".{out.name}.*"):  # left by a killed build (we hold the lock)
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            with tempfile.TemporaryDirectory(prefix=f".{out.name}.work-", dir=out.parent) as work:
                build_all(tmp, Path(work), corpus)
            (tmp / "stamp").write_text(stamp + "\n")
            replace_dir(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        logger.info("built %s in %.1f s", out, time.monotonic() - started)
    return out


def replace_dir(new: Path, out: Path) -> None:
    """Moves `new` into place as `out`; an older `out` is renamed away first, then removed."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(new, out)
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- independent check


def squash(text: str) -> str:
    """Compare without spaces, hyphens and ligatures (TeX hyphenates and sets "ffi" as one glyph)."""
    return re.sub(r"[\s\-\u00ad]", "", unicodedata.normalize("NFKC", text))


def check(out: Path) -> bool:
    """pdftotext page by page against the truth: the share of one-page sentences found on their page."""
    ok = True
    for variant in ("mixed", *UNIFORM):
        truth = json.loads((out / variant / "truth.json").read_text(encoding="utf-8"))
        for doc_id, paper in truth["papers"].items():
            pdf = out / variant / paper["file"]
            pages = [squash(page_text(pdf, i, paper["columns"])) for i in range(1, paper["pages"] + 1)]
            for note in (s for s in paper["sentences"] if s["kind"] == "footnote"):  # may sit mid-sentence
                pages = [re.sub(r"\d*" + re.escape(squash(note["text"])), "", page) for page in pages]
            found: dict[str, list[bool]] = {}
            for s in paper["sentences"]:
                if s["index"] == s["index_end"]:
                    found.setdefault(s["kind"], []).append(squash(s["text"]) in pages[s["index"] - 1])
            body = sum(found.get("body", [])) / max(1, len(found.get("body", [])))
            shares = " ".join(f"{k}={sum(v)}/{len(v)}" for k, v in sorted(found.items()))
            expected = paper["to_unicode"] or paper["cid_ordering"] == "Adobe-GB1"  # poppler reads GB1
            good = body >= 0.95 if expected else body < 0.05
            ok &= good
            print(f"{'ok ' if good else 'BAD'} {variant}/{doc_id}: body {body:.3f} ({shares})"
                  f"{'' if expected else ' (no ToUnicode: expected unreadable)'}")
    return ok


def page_text(pdf: Path, page: int, columns: int) -> str:
    """The page's text; for two columns also each half cropped on its own, because pdftotext
    interleaves the lines of two narrow CJK columns (the reader under test must not)."""
    size = subprocess.run(["pdfinfo", "-f", str(page), "-l", str(page), str(pdf)],
                          capture_output=True, text=True, check=True).stdout
    width, height = (float(v) for v in re.search(rf"Page\s+{page} size:\s+([\d.]+) x ([\d.]+)", size).groups())
    # Columns without the running header and footer, left then right, so that a sentence that
    # runs from the foot of the left column to the head of the right one reads on.
    top, bottom, half = 72, int(height) - 64, int(width / 2)
    crops = [[]] if columns == 1 else [[], ["-y", str(top), "-W", str(half), "-H", str(bottom - top)],
                                       ["-x", str(half), "-y", str(top), "-W", str(half), "-H", str(bottom - top)]]
    texts = []
    for crop in crops:
        cmd = ["pdftotext", "-q", "-r", "72", "-f", str(page), "-l", str(page), *crop, "-enc", "UTF-8", str(pdf), "-"]
        texts.append(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    return texts[0] + "\f" + "".join(texts[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default build/pdf-fixtures)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp is current")
    parser.add_argument("--check", action="store_true", help="compare pdftotext of each page with the truth")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.path.insert(0, str(ROOT))  # rag.ingest, when run as a plain script
    started = time.monotonic()
    try:
        out = build(args.out, force=args.force)
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"pdf fixtures in {out} ({time.monotonic() - started:.1f} s)")
    return 0 if not args.check or check(out) else 1


if __name__ == "__main__":
    sys.exit(main())
