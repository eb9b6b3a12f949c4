"""Titles and authors of PDFs typeset the ways real manuals and papers are (the kinds a sweep of
Debian's documentation PDFs found wrong, bench/real_pdfs.py): logos in titles, footnote marks on
titles, a numbered section where no title is, a title set letter by letter, a subtitle under the
title; and manuals' code and index pages, and Japanese, are text, not mojibake."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import rag

PREAMBLE = r"""\documentclass{article}
\usepackage{fontspec}
\usepackage{xeCJK}
\setCJKmainfont{Noto Serif CJK SC}
\pagestyle{plain}
"""
BODY = (
    "Cross-border trade grew quickly in the first year of the programme, and logistics costs fell "
    "by twelve percent after the new warehouses opened near the ports. "
) * 6


@pytest.fixture(scope="module")
def typeset(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    if shutil.which("xelatex") is None:
        pytest.skip("xelatex is not installed; run `bash scripts/install_texlive.sh`")
    folder = tmp_path_factory.mktemp("titles")

    def make(name: str, document: str, extra: str = "") -> Path:
        tex = folder / f"{name}.tex"
        text = (
            PREAMBLE
            + "\\begin{document}\n"
            + extra
            + document.replace(r"\maketitle", "\\maketitle\n")
            + "\n\\end{document}\n"
        )
        tex.write_text(text, encoding="utf-8")
        subprocess.run(
            ["xelatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
            cwd=folder,
            capture_output=True,
            check=True,
            timeout=120,
        )
        return folder / f"{name}.pdf"

    return make


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (r"A Short Guide to Installing \LaTeX", "A Short Guide to Installing LATEX"),
        (r"一份简短的关于 \LaTeX{} 安装的介绍", "一份简短的关于LATEX安装的介绍"),
        (r"{\Huge 一份简短的关于 \LaTeX{} 安装的介绍}\thanks{2023 年版。}", "一份简短的关于LATEX安装的介绍"),
    ],
)
def test_a_logo_in_the_title_reads_in_order(typeset, title: str, expected: str) -> None:  # noqa: ANN001
    pdf = typeset(f"logo-{len(title)}", rf"\title{{{title}}}\author{{Jane Smith}}\date{{}}\maketitle" + BODY)
    paper = rag.read_paper(pdf).paper
    assert paper.title.replace(" ", "") == expected.replace(" ", "")
    assert paper.authors == ("Jane Smith",)


@pytest.mark.parametrize("mark", [r"\thanks{Version 1.2 of this manual.}", r"\footnote{项目资助。}"])
def test_footnote_marks_are_not_part_of_the_title(typeset, mark: str) -> None:  # noqa: ANN001
    pdf = typeset(
        f"mark-{len(mark)}", rf"\title{{The zhspacing User Manual{mark}}}\author{{}}\date{{}}\maketitle" + BODY
    )
    assert rag.read_paper(pdf).paper.title == "The zhspacing User Manual"


@pytest.mark.parametrize("heading", ["Prime equation numbers", "Symbols"])
def test_a_numbered_section_is_not_a_title(typeset, heading: str) -> None:  # noqa: ANN001
    pdf = typeset(f"section-{heading[:5]}", rf"\section{{{heading}}}" + BODY)
    paper = rag.read_paper(pdf).paper
    assert not paper.title_known and paper.title == pdf.stem


def test_the_info_title_replaces_a_title_set_letter_by_letter(typeset) -> None:  # noqa: ANN001
    letters = "".join(rf"\raisebox{{{i % 3}ex}}{{\Huge {ch}}}" for i, ch in enumerate("试卷模板"))
    pdf = typeset(
        "arc",
        rf"\begin{{center}}{letters}\end{{center}}" + BODY,
        extra="\\special{pdf:docinfo<</Title(exam-zh: a Gaokao exam template)>>}\n",
    )
    paper = rag.read_paper(pdf).paper
    assert (paper.title, dict(paper.sources)["title"]) == ("exam-zh: a Gaokao exam template", "PDF Info title")


@pytest.mark.parametrize("subtitle", ["An Interactive Plotting Program", "An Open Manual"])
def test_a_subtitle_is_not_an_author(typeset, subtitle: str) -> None:  # noqa: ANN001
    pdf = typeset(
        f"sub-{subtitle[:6]}",
        rf"\begin{{center}}{{\Huge Gnuplot Manual\par}}{{\large {subtitle}\par}}\end{{center}}" + BODY,
    )
    paper = rag.read_paper(pdf).paper
    assert paper.title == "Gnuplot Manual" and paper.authors == ()


MACRO_INDEX = (
    r"\captionsetup . . . 413, 414 \__xpinyin_CJKglue: . . . 220, 229 \ctexset abstractname = {本文概要} "
    r"\DeclareUTFCompositeSymbol\textsubscript{n}{2099} \zhdigits 12 \zhnum 13 \zhdig 14 \setCJKmainfont 15 "
    r"\xeCJKsetup 16 \CJKfamily 17 \ctexkeys 18 \ctexpunct 19 \zihao 20 \xeCJKDeclareCharClass 21 "
    r"\newCJKfontfamily 22 \CJKsetecglue 23 \xeCJKallowbreakbetweenpuncts 24 \xeCJKnobreak 25 "
)
UNICODE_NAMES = " ".join(
    f"{script}{case}LETTER{name}"
    for script in ("CYRILLIC", "GREEK", "LATIN")
    for case in ("SMALL", "CAPITAL")
    for name in ("IZHITSA", "UK", "ALPHA", "OMEGA", "YAT", "SHARPS", "AWITHGRAVE")
)
JAPANESE = (
    "zxjafont パッケージは、日本語フォントの設定を簡単にするためのパッケージです。游明朝や游ゴシックなど、"
    "各種の和文フォントを一括して指定できます。組版の体裁を整えるために、見出しや本文の書体を統一し、"
    "縦組みと横組みの両方で使用できるよう設計されています。詳細は付属文書を参照してください。"
)


@pytest.mark.parametrize(
    "text",
    [
        MACRO_INDEX,  # a LaTeX manual's macro index: commands, not English words, still text
        UNICODE_NAMES,  # a symbol list's Unicode names in capitals
        JAPANESE,  # kanji among kana: not judged by a Chinese frequency list
    ],
)
def test_manuals_code_and_japanese_are_language(text: str) -> None:
    assert rag.language_problem(text) is None


@pytest.mark.parametrize("comment", ["# build the index first", "# 先建立索引"])
def test_a_hash_line_in_a_pdf_is_code_not_a_markdown_title(typeset, comment: str) -> None:  # noqa: ANN001
    pdf = typeset(f"hash-{len(comment)}", BODY + "\n\n\\noindent " + comment.replace("#", r"\#") + "\n\n" + BODY)
    paper = rag.read_paper(pdf).paper
    assert paper.title == pdf.stem and not paper.title_known


@pytest.mark.parametrize(
    "text",
    [
        r"表 3.4: 长标注符号 \overline{xxx} xxx \underline{xxx} xzx \overleftarrow{xxx} xgxx xdxx xxx \widehat{xxx} "
        r"xxx xxx \overbrace{xxx} xxx xxx xxx xxx \underbrace{xxx} xxx 表3.3列出一些短的注音符号（accent），"
        "表3.4则列出一些长的标注符号。",
        "图 2: 示意 abc def ghi jkl mno pqr stu vwx yzz qqq rrr sss ttt uuu vvv www 本节的例子说明了参数的取值范围"
        "与默认设置，读者可以按照需要修改这些选项，并观察排版结果的变化。上面的字母只是占位符，用来表示任意内容，"
        "实际使用时请替换成自己的文字。",
    ],
)
def test_placeholder_letters_on_a_chinese_page_are_not_mojibake(text: str) -> None:
    assert rag.language_problem(text) is None
