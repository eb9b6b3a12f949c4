"""Cleaning and chunking of the real papers, as a reader of the citations would notice them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rag

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
PAPER_001 = CORPUS / "001_4139313f3243f7e4.txt"


@pytest.fixture(scope="module")
def paper_001() -> rag.CleanPaper:
    return rag.read_paper(PAPER_001)


def test_running_headers_urls_and_licence_lines_are_removed(paper_001: rag.CleanPaper) -> None:
    text = paper_001.text
    assert "DOI: 10.12677" not in text
    assert "hanspub.org" not in text and "https://" not in text
    assert "郭冉" not in text  # the author name repeated as a running header
    clean_000 = rag.read_paper(CORPUS / "000_0ea6e26401eae5d1.txt").text
    assert "Creative Commons" not in clean_000 and "Copyright" not in clean_000


def test_hard_wrapped_lines_and_page_breaks_are_rejoined(paper_001: rag.CleanPaper) -> None:
    # "...中国跨境电商也迎来了\n\n新一轮的发展机遇" in the file: one sentence in the clean text.
    assert "中国跨境电商也迎来了新一轮的发展机遇" in paper_001.text
    # This sentence is split by the page-139 running header block in the file.
    assert "本文结合政策条件和科技优势为跨境电商所存在的诸如创新不足" in paper_001.text
    # English: line-break hyphens go, real hyphens stay.
    assert "development" in paper_001.text and "devel-" not in paper_001.text
    assert "cross-border e-commerce" in paper_001.text


def test_sections_abstracts_and_references_are_marked() -> None:
    clean = rag.read_paper(CORPUS / "000_0ea6e26401eae5d1.txt")
    kinds = {b.kind for b in clean.blocks}
    assert {"abstract", "abstract_en", "keywords", "body", "references", "heading"} <= kinds
    sections = {b.section for b in clean.blocks}
    assert "(一) 监管制度尚未健全" in sections and "4. 中国跨境电商发展中存在的问题" in sections
    # The trailing outline gives the title and is not left in the text.
    assert clean.paper.title == "中国跨境电商发展的困境及其对策研究"
    assert clean.paper.doi == "10.12677/ecl.2025.1461855"
    assert not clean.text.rstrip().endswith("参考文献")


def test_titles_are_never_invented() -> None:
    clean = rag.read_paper(CORPUS / "002_268bfb1f0d63e3bd.txt")
    assert clean.paper.title == "002_268bfb1f0d63e3bd" and not clean.paper.title_known


def test_chunk_with_known_sentence_has_doc_section_and_printed_pages(paper_001: rag.CleanPaper) -> None:
    chunks = rag.chunk_paper(paper_001)
    [chunk] = [c for c in chunks if "欧美地区多数国家的物价快速上涨" in c.text]
    assert chunk.doc_id == "001_4139313f3243f7e4"
    assert chunk.section == "3.2. 产品质量水准不一，缺乏高质量发展引领"
    # After the running header of page 137, before that of page 139; only odd pages have one.
    assert (chunk.page, chunk.page_end) == (137, 138)
    assert rag.page_label(chunk.page, chunk.page_end) == "137–138"
    assert paper_001.text[chunk.start : chunk.end] == chunk.text


def test_chunks_respect_sections_size_and_sentences() -> None:
    for path in sorted(CORPUS.glob("*.txt")):
        clean = rag.read_paper(path)
        chunks = rag.chunk_paper(clean, chunk_chars=350, chunk_overlap=80)
        assert chunks
        for c in chunks:
            assert clean.text[c.start : c.end] == c.text
            # never across a section boundary: no body heading inside, except at the start
            inner = c.text.split("\n\n")
            heads = [i for i, p in enumerate(inner) if re.match(r"^\d+(\.\d+)*\.\s*\S{2,40}$", p)]
            assert all(i == j for j, i in enumerate(heads)), (c.key, inner[:3])
            if c.lang == "zh" and c.kind == "body":
                assert len(c.text) <= 350 + 120 or len(rag.split_sentences(c.text)) <= 2
        english = [c for c in chunks if c.kind == "abstract_en"]
        assert english and all(c.lang == "en" for c in english)


def test_gbk_copy_gives_the_same_chunks_as_utf8(tmp_path: Path) -> None:
    gbk = tmp_path / PAPER_001.name
    gbk.write_bytes(PAPER_001.read_text(encoding="utf-8").encode("gb18030"))
    utf8_chunks = rag.chunk_paper(rag.read_paper(PAPER_001))
    gbk_chunks = rag.chunk_paper(rag.read_paper(gbk))
    assert [(c.key, c.text, c.page, c.section) for c in gbk_chunks] == [
        (c.key, c.text, c.page, c.section) for c in utf8_chunks
    ]


def test_pdf_is_read_with_page_numbers(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "report.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pages = [
        ["1. Introduction", "Cross-border trade grew quickly in the first year of the programme."],
        ["2. Findings", "Logistics costs fell by 12 percent after the new warehouses opened."],
    ]
    for lines in pages:
        y = 780
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 40
        pdf.showPage()
    pdf.save()
    clean = rag.read_paper(path)
    chunks = rag.chunk_paper(clean)
    [finding] = [c for c in chunks if "12 percent" in c.text]
    assert finding.page == 2 and finding.section == "2. Findings"


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.txt", b""), ("binary.txt", b"\x00\x01\x02" * 100), ("broken.pdf", b"%PDF-1.4 not really a pdf")],
)
def test_unreadable_files_raise_a_corpus_error_naming_the_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(rag.CorpusError, match=re.escape(name)):
        rag.read_paper(path)


PAPER_000 = CORPUS / "000_0ea6e26401eae5d1.txt"
PAPER_003 = CORPUS / "003_d0102665b7b2c82a.txt"


def _chunk_view(clean: rag.CleanPaper) -> list[tuple[str, str, int | None, str | None]]:
    return [(c.key, c.text, c.page, c.section) for c in rag.chunk_paper(clean)]


def test_utf16_copy_with_a_byte_order_mark_gives_the_same_chunks_as_utf8(tmp_path: Path) -> None:
    utf16 = tmp_path / PAPER_001.name
    utf16.write_bytes(PAPER_001.read_text(encoding="utf-8").encode("utf-16"))  # BOM + UTF-16-LE here
    assert utf16.read_bytes()[:2] == b"\xff\xfe"
    assert _chunk_view(rag.read_paper(utf16)) == _chunk_view(rag.read_paper(PAPER_001))


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-16-be", b"\xfe\xff"), ("utf-8", b"\xef\xbb\xbf"), ("utf-32-le", b"\xff\xfe\x00\x00")],
)
def test_markdown_in_utf16_be_utf8_or_utf32_with_a_mark_is_read(tmp_path: Path, encoding: str, bom: bytes) -> None:
    # A markdown paper made of the first section of a real paper.
    text = PAPER_003.read_text(encoding="utf-8")
    body = text[text.index("1. 引言") : text.index("2. 跨境电商发展的主要瓶颈")].replace("1. 引言", "## 1. 引言")
    path = tmp_path / "paper.md"
    path.write_bytes(bom + body.encode(encoding))
    clean = rag.read_paper(path)
    assert not clean.text.startswith("\ufeff")
    assert any(b.kind == "heading" and clean.text[b.start : b.end] == "1. 引言" for b in clean.blocks)
    assert [c.text for c in rag.chunk_paper(clean)] == [
        c.text for c in rag.chunk_paper(rag.read_paper(_utf8_copy(tmp_path, body)))
    ]


def _utf8_copy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plain" / "paper.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def _sentence_with(clean: rag.CleanPaper, needle: str) -> str:
    for chunk in rag.chunk_paper(clean):
        for s, e in rag.split_sentences(chunk.text):
            if needle in chunk.text[s:e]:
                return chunk.text[s:e]
    raise AssertionError(f"no sentence contains {needle!r}")


def test_a_wrapped_line_that_starts_with_a_decimal_figure_is_not_a_heading(tmp_path: Path) -> None:
    # The real paragraph, re-wrapped so that a line starts with the figure.
    text = PAPER_000.read_text(encoding="utf-8")
    assert "我国跨境电商进出口 1.88 万亿元" in text
    path = tmp_path / PAPER_000.name
    path.write_text(text.replace("进出口 1.88 万亿元", "进出口\n1.88 万亿元"), encoding="utf-8")
    clean = rag.read_paper(path)
    assert not [b for b in clean.blocks if clean.text[b.start : b.end].startswith("1.88")]
    sentence = _sentence_with(clean, "1.88")
    assert sentence.startswith("海关总署最新初步测算数据显示")
    assert "我国跨境电商进出口1.88 万亿元，同比增长 11.5%" in sentence and sentence.endswith("6.2 个百分点[4]。")
    [chunk] = [c for c in rag.chunk_paper(clean) if sentence in c.text]
    assert chunk.section == "3. 当前中国跨境电商发展的主要特点"


def test_decimal_continuations_are_told_from_headings_by_unit_and_by_the_sentence_before(tmp_path: Path) -> None:
    # Second example, written here: "2.5 倍" starts with a unit word; "3.46 次…" has no unit
    # this project lists, so only the unfinished sentence before it says it is a continuation;
    # "2.3 跨境物流" after a finished sentence stays a heading.
    text = PAPER_003.read_text(encoding="utf-8")
    anchor = "2.1. 国际政治经济环境不稳定"
    extra = (
        "据测算，综试区所在城市的跨境电商出口额是其他城市的\n2.5 倍，差距仍在扩大。消费者年均跨境网购\n"
        "3.46 次以上的城市集中在东部沿海\n地区。\n2.3 跨境物流\n海外仓面积持续扩大。\n"
    )
    path = tmp_path / PAPER_003.name
    path.write_text(text.replace(anchor, extra + anchor), encoding="utf-8")
    clean = rag.read_paper(path)
    headings = [clean.text[b.start : b.end] for b in clean.blocks if b.kind == "heading"]
    assert "2.3 跨境物流" in headings
    assert not [h for h in headings if h.startswith(("2.5", "3.46"))]
    assert _sentence_with(clean, "2.5 倍").startswith("据测算，综试区所在城市")
    assert _sentence_with(clean, "3.46 次") == "消费者年均跨境网购3.46 次以上的城市集中在东部沿海地区。"


def _english_abstract_copy(tmp_path: Path, replacements: dict[str, str]) -> rag.CleanPaper:
    text = PAPER_000.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / PAPER_000.name
    path.write_text(text, encoding="utf-8")
    return rag.read_paper(path)


def test_line_break_hyphens_are_joined_when_the_word_is_english(tmp_path: Path) -> None:
    original = PAPER_000.read_text(encoding="utf-8").lower()
    assert "governance" not in original and "interoperability" not in original  # the word list decides
    clean = _english_abstract_copy(
        tmp_path,
        {
            "and policy support, cross-border": "and policy govern-\nance, cross-border",
            "promoted the transformation and upgrading": "promoted the inter-\noperability and upgrading",
        },
    )
    assert "policy governance, cross-border" in clean.text and "govern-" not in clean.text
    assert "promoted the interoperability and upgrading" in clean.text


def test_real_compounds_keep_their_hyphen_at_a_line_break(tmp_path: Path) -> None:
    # "cross-\n border" is in the real file, and the paper writes "e-commerce" on one line elsewhere;
    # "wellbeing" is neither in the paper nor in the word list.
    clean = _english_abstract_copy(
        tmp_path,
        {
            "With the advantages of rich": "With the well-\nbeing advantages of rich",
            "the future de-\nvelopment of China’s cross-border e-commerce": (
                "the future development of China’s cross-border e-\ncommerce"
            ),
        },
    )
    assert "main features of China’s cross-border e-commerce" in clean.text
    assert "With the well-being advantages" in clean.text
    assert "the future development of China’s cross-border e-commerce.\n" in clean.text


PAPER_002 = CORPUS / "002_268bfb1f0d63e3bd.txt"

# A small Markdown paper made from paper 002: its title, its abstract and its figures for 2023-2024,
# with the export and import figures put in a table as many papers do.
MARKDOWN_PAPER = """# 数字经济背景下我国跨境电商发展的现状与对策

## 摘要

数字经济作为新一轮科技革命的核心驱动力，正以颠覆性力量重构全球贸易格局。

## 2.1. 交易规模实现增长与突破

进一步剖析跨境电商的进出口结构，出口业务依旧占据主导地位。表 1 列出了 2023—2024 年我国跨境电商
进出口规模。

| 年份 | 出口规模(万亿元) | 进口规模(万亿元) |
| --- | ---: | ---: |
| 2023 | 13.24 | 3.61 |
| 2024 | 13.7 | 3.96 |

中国优质产品借助跨境电商平台不断拓宽海外市场版图。
"""


def _markdown_paper(tmp_path: Path, text: str, name: str = "paper.md") -> rag.CleanPaper:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return rag.read_paper(path)


def _sentences(clean: rag.CleanPaper) -> list[str]:
    return [c.text[s:e] for c in rag.chunk_paper(clean) for s, e in rag.split_sentences(c.text)]


def test_markdown_table_rows_are_sentences_with_their_header(tmp_path: Path) -> None:
    for figure in ("13.24", "3.61", "13.7", "3.96"):
        assert figure in PAPER_002.read_text(encoding="utf-8")  # the table's figures are the paper's
    clean = _markdown_paper(tmp_path, MARKDOWN_PAPER)
    sentences = _sentences(clean)
    assert "年份：2024，出口规模(万亿元)：13.7，进口规模(万亿元)：3.96。" in sentences
    assert "年份：2023，出口规模(万亿元)：13.24，进口规模(万亿元)：3.61。" in sentences
    assert "表 1 列出了 2023—2024 年我国跨境电商进出口规模。" in sentences  # the intro stays a sentence
    assert "|" not in clean.text and "---" not in clean.text
    [row] = [c for c in rag.chunk_paper(clean) if "13.7" in c.text]
    assert row.section == "2.1. 交易规模实现增长与突破" and row.kind == "body"


def test_markdown_table_with_years_across_reads_each_row_with_its_header(tmp_path: Path) -> None:
    # Second example: English, the years are the columns, a cell is empty, a pipe is escaped.
    text = (
        "# Cross-border e-commerce in figures\n\n"
        "Table 2 gives the scale of trade.\n\n"
        "| Indicator | 2023 | 2024 |\n"
        "|:---|---:|---:|\n"
        "| Exports (trillion yuan) | 13.24 | 13.7 |\n"
        "| Imports \\| total (trillion yuan) | 3.61 | |\n"
        "\n"
        "Exports kept growing.\n"
    )
    sentences = _sentences(_markdown_paper(tmp_path, text))
    assert "Indicator: Exports (trillion yuan), 2023: 13.24, 2024: 13.7." in sentences
    assert "Indicator: Imports | total (trillion yuan), 2023: 3.61." in sentences
    assert "Table 2 gives the scale of trade." in sentences


def test_markdown_level_one_heading_is_the_title_unless_the_catalog_names_one(tmp_path: Path) -> None:
    clean = _markdown_paper(tmp_path, MARKDOWN_PAPER)
    assert clean.paper.title == "数字经济背景下我国跨境电商发展的现状与对策" and clean.paper.title_known
    assert any(b.kind == "abstract" for b in clean.blocks)  # "## 摘要" is still the abstract
    catalog = {"paper": {"title": "A title from the catalog"}}
    listed = rag.read_paper(tmp_path / "paper.md", catalog)
    assert listed.paper.title == "A title from the catalog"


def test_markdown_title_is_the_first_level_one_heading_not_a_subheading(tmp_path: Path) -> None:
    text = "## 1. Introduction\n\nTrade grew.\n\n# Cross-border E-commerce #\n\nMore text here.\n\n# Appendix\n"
    clean = _markdown_paper(tmp_path, text, "notes.md")
    assert clean.paper.title == "Cross-border E-commerce" and clean.paper.title_known
    # A plain text paper without one still has no invented title.
    assert not rag.read_paper(PAPER_002).paper.title_known


def test_an_english_sentence_followed_directly_by_a_chinese_one_is_two_sentences() -> None:
    # From paper 002: the last English sentence of its abstract, then its Chinese keywords line.
    english = "It aims to provide theoretical reference and practical paths for building a globally competitive digital trade ecosystem."  # noqa: E501
    assert english in rag.read_paper(PAPER_002).text
    text = english + "数字经济作为新一轮科技革命的核心驱动力。"
    assert [text[s:e] for s, e in rag.split_sentences(text)] == [english, "数字经济作为新一轮科技革命的核心驱动力。"]
    # Second example: a year before the stop, then Chinese.
    text = "Exports reached 1.88 trillion yuan in 2024.同比增长 11.5%。"
    assert [text[s:e] for s, e in rag.split_sentences(text)] == [
        "Exports reached 1.88 trillion yuan in 2024.",
        "同比增长 11.5%。",
    ]


def test_decimals_initials_and_abbreviations_do_not_end_a_sentence() -> None:
    text = "Trade with the U.S. rose 1.88 times, e.g. via Amazon (Smith et al. 2020).美国市场增长较快。"
    assert [text[s:e] for s, e in rag.split_sentences(text)] == [
        "Trade with the U.S. rose 1.88 times, e.g. via Amazon (Smith et al. 2020).",
        "美国市场增长较快。",
    ]
    # Second example: a Chinese enumeration "1.政策" is not an English stop.
    text = "主要有：1.政策支持；2.市场广阔。See Fig. 2 for details."
    assert [text[s:e] for s, e in rag.split_sentences(text)] == [
        "主要有：1.政策支持；",
        "2.市场广阔。",
        "See Fig. 2 for details.",
    ]
