"""Reference-manager files beside the papers: each format read to the fields a user sees, bad input
named with its line, CNKI's .txt exports told apart from .txt papers, records matched to papers.

The English records are real papers as their publishers list them; the Chinese ones are written in
the style of CNKI's exports of 电子商务评论 (2025) articles on 跨境电商 (郭冉's DOI is the one printed
on corpus paper 001; the other Chinese titles and names are illustrative)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.bibfile import (
    MIN_TITLE_CHARS,
    PaperKeys,
    bibliography_files,
    match_records,
    read_bibliography,
    sniff,
    title_key,
)
from rag.errors import CorpusError
from rag.types import BibRecord

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

BIBTEX = r"""% Exported by Better BibTeX for Zotero
@article{lecun2015deep,
  title     = {Deep learning},
  author    = {LeCun, Yann and Bengio, Yoshua and Hinton, Geoffrey},
  journal   = {Nature},
  volume    = {521},
  number    = {7553},
  pages     = {436--444},
  year      = {2015},
  publisher = {Nature Publishing Group},
  doi       = {https://doi.org/10.1038/NATURE14539},
  file      = {Full Text PDF:storage/7XK2M9QP/LeCun et al. - 2015 - Deep learning.pdf:application/pdf}
}

@inproceedings{vaswani2017attention,
  title     = {Attention is All you Need},
  author    = {Vaswani, Ashish and Shazeer, Noam and Parmar, Niki and Uszkoreit, Jakob and Jones, Llion
               and Gomez, Aidan N. and Kaiser, {\L}ukasz and Polosukhin, Illia},
  booktitle = {Advances in Neural Information Processing Systems},
  volume    = {30},
  pages     = {5998--6008},
  year      = {2017},
  publisher = {Curran Associates, Inc.}
}

@misc{devlin2019bert,
  title         = {{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding},
  author        = {Jacob Devlin and Ming-Wei Chang and Kenton Lee and Kristina Toutanova},
  year          = {2018},
  eprint        = {1810.04805},
  archivePrefix = {arXiv},
  primaryClass  = {cs.CL}
}

@article{grothendieck1960ega,
  title   = {{\'E}l{\'e}ments de g{\'e}om{\'e}trie alg{\'e}brique: {I}. {L}e langage des sch{\'e}mas},
  author  = {Grothendieck, Alexander and Dieudonn{\'e}, Jean},
  journal = {Publications Math{\'e}matiques de l'IH{\'E}S},
  volume  = {4},
  pages   = {5--228},
  year    = {1960},
  doi     = {10.1007/BF02684778}
}

@techreport{who2020covid,
  title       = {Coronavirus disease 2019 ({COVID}-19): situation report, 51},
  author      = {{World Health Organization}},
  institution = {World Health Organization},
  address     = {Geneva},
  year        = {2020}
}

@phdthesis{guo2023thesis,
  title  = {跨境电商综合试验区的政策效应研究},
  author = {王磊},
  school = {浙江大学},
  year   = {2023},
  file   = {files/12/王磊 - 2023 - 跨境电商综合试验区的政策效应研究.pdf}
}
"""


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def by_key(records: tuple[BibRecord, ...]) -> dict[str, BibRecord]:
    return {r.key: r for r in records}


# ---------------------------------------------------------------- BibTeX


def test_bibtex_fields_as_a_user_reads_them(tmp_path: Path) -> None:
    bib = read_bibliography(write(tmp_path, "refs.bib", BIBTEX))
    assert bib.format == "bibtex" and bib.problems == ()
    r = by_key(bib.records)
    lecun = r["lecun2015deep"]
    assert lecun.origin == "refs.bib:2"
    assert lecun.title == "Deep learning"
    assert lecun.authors == ("LeCun, Yann", "Bengio, Yoshua", "Hinton, Geoffrey")
    assert (lecun.year, lecun.container, lecun.volume, lecun.issue) == (2015, "Nature", "521", "7553")
    assert lecun.pages == "436-444"
    assert lecun.doi == "10.1038/nature14539"
    assert lecun.item_type == "article-journal"
    assert lecun.publisher == "Nature Publishing Group"
    assert lecun.files == ("storage/7XK2M9QP/LeCun et al. - 2015 - Deep learning.pdf",)

    vaswani = r["vaswani2017attention"]
    assert vaswani.item_type == "paper-conference"
    assert vaswani.container == "Advances in Neural Information Processing Systems"
    assert vaswani.authors[0] == "Vaswani, Ashish" and vaswani.authors[6] == "Kaiser, Łukasz"
    assert len(vaswani.authors) == 8 and vaswani.pages == "5998-6008"

    bert = r["devlin2019bert"]
    assert bert.item_type == "article"  # an arXiv preprint
    assert bert.title == "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    assert bert.authors == ("Devlin, Jacob", "Chang, Ming-Wei", "Lee, Kenton", "Toutanova, Kristina")


def test_bibtex_latex_becomes_unicode_and_organisations_and_cjk_names_stay_as_written(tmp_path: Path) -> None:
    r = by_key(read_bibliography(write(tmp_path, "refs.bib", BIBTEX)).records)
    ega = r["grothendieck1960ega"]
    assert ega.title == "Éléments de géométrie algébrique: I. Le langage des schémas"
    assert ega.authors == ("Grothendieck, Alexander", "Dieudonné, Jean")
    assert ega.container == "Publications Mathématiques de l'IHÉS"
    assert ega.doi == "10.1007/bf02684778"

    who = r["who2020covid"]
    assert who.authors == ("World Health Organization",)
    assert who.title == "Coronavirus disease 2019 (COVID-19): situation report, 51"
    assert (who.item_type, who.publisher, who.place) == ("report", "World Health Organization", "Geneva")

    thesis = r["guo2023thesis"]
    assert (thesis.item_type, thesis.authors, thesis.publisher) == ("thesis", ("王磊",), "浙江大学")
    assert thesis.files == ("files/12/王磊 - 2023 - 跨境电商综合试验区的政策效应研究.pdf",)


BROKEN_BIB = """@article{lecun2015deep,
  title = {Deep learning},
  journal = {Nature},
  year = {2015}
}

@article{bahdanau2015neural
  title = {Neural machine translation by jointly learning to align and translate},
  year = {2015}
}

@inproceedings{vaswani2017attention,
  title = {Attention is all you need},
  year = {2017}
}

@article{he2016deep,
  title = {Deep residual learning for image recognition,
  year = {2016}
}

@article{hochreiter1997long,
  title = {Long short-term memory},
  journal = {Neural Computation},
  year = {1997}
}
"""


def test_bibtex_syntax_errors_are_named_by_line_and_the_good_entries_kept(tmp_path: Path) -> None:
    bib = read_bibliography(write(tmp_path, "refs.bib", BROKEN_BIB))
    assert [r.key for r in bib.records] == ["lecun2015deep", "vaswani2017attention", "hochreiter1997long"]
    assert [r.origin for r in bib.records] == ["refs.bib:1", "refs.bib:12", "refs.bib:22"]
    assert len(bib.problems) == 2
    missing_comma, unclosed = bib.problems
    assert missing_comma.startswith("refs.bib:7: entry could not be parsed (")
    assert "Expected comma after entry key" in missing_comma
    assert unclosed.startswith("refs.bib:17: entry could not be parsed (Unexpected block start")


DUPLICATE_BIB = """@article{lecun2015deep,
  title = {Deep learning},
  year = {2015}
}
@article{lecun2015deep,
  title = {Deep Learning (accepted manuscript)},
  year = {2015}
}
@book{goodfellow2016deep,
  title = {Deep Learning},
  publisher = {MIT Press},
  year = {2016}
}
@book{goodfellow2016deep,
  title = {Deep learning},
  year = {2016}
}
"""


def test_bibtex_duplicate_keys_keep_the_first_and_name_both_lines(tmp_path: Path) -> None:
    bib = read_bibliography(write(tmp_path, "refs.bib", DUPLICATE_BIB))
    assert [(r.key, r.title) for r in bib.records] == [
        ("lecun2015deep", "Deep learning"),
        ("goodfellow2016deep", "Deep Learning"),
    ]
    assert len(bib.problems) == 2
    assert bib.problems[0].startswith("refs.bib:5: duplicate citation key 'lecun2015deep' (first at line 1)")
    assert bib.problems[1].startswith("refs.bib:14: duplicate citation key 'goodfellow2016deep' (first at line 9)")


def test_records_without_a_title_are_skipped_and_named(tmp_path: Path) -> None:
    bib = read_bibliography(
        write(
            tmp_path,
            "refs.bib",
            "@article{anon1, author = {LeCun, Yann}, year = {2015}}\n"
            "@article{ok, title = {Deep learning}, year = {2015}}\n"
            "@misc{anon2, title = {}, url = {https://arxiv.org/abs/1706.03762}}\n",
        )
    )
    assert [r.key for r in bib.records] == ["ok"]
    assert [p.split(";")[0] for p in bib.problems] == [
        "refs.bib:1: record has no title",
        "refs.bib:3: record has no title",
    ]

    ris = read_bibliography(
        write(
            tmp_path,
            "export.ris",
            "TY  - JOUR\nAU  - Hinton, Geoffrey\nPY  - 2006\nER  - \n\nTY  - BOOK\nPY  - 2016\nER  - \n",
        )
    )
    assert ris.records == () and [p.split(":")[:2] for p in ris.problems] == [["export.ris", "1"], ["export.ris", "6"]]


# ---------------------------------------------------------------- RIS

RIS = """TY  - JOUR
AU  - LeCun, Yann
AU  - Bengio, Yoshua
AU  - Hinton, Geoffrey
TI  - Deep learning
T2  - Nature
PY  - 2015/05/28
VL  - 521
IS  - 7553
SP  - 436
EP  - 444
DO  - 10.1038/nature14539
UR  - https://www.nature.com/articles/nature14539
LA  - en
KW  - deep learning
KW  - representation learning
L1  - file:///home/ana/Zotero/storage/7XK2M9QP/LeCun%20et%20al.%20-%202015%20-%20Deep%20learning.pdf
ER  -

TY  - CPAPER
AU  - Vaswani, Ashish
AU  - Shazeer, Noam
TI  - Attention is all you need
T2  - Advances in Neural Information Processing Systems
PY  - 2017
SP  - 5998
EP  - 6008
ER  -
"""

CNKI_RIS_GBK = """TY  - JOUR
AU  - 郭冉
TI  - 数字经济视域下跨境电商的发展机遇、困境与路径
JO  - 电子商务评论
PY  - 2025
VL  - 14
IS  - 06
SP  - 135
EP  - 142
DO  - 10.12677/ecl.2025.1461720
KW  - 数字经济；跨境电商；发展路径
ER  -

TY  - THES
AU  - 陈静
TI  - 中国跨境电商出口的影响因素研究
PB  - 对外经济贸易大学
PY  - 2022
ER  -
"""


def test_ris_fields(tmp_path: Path) -> None:
    bib = read_bibliography(write(tmp_path, "export.ris", RIS))
    assert bib.format == "ris" and bib.problems == ()
    lecun, vaswani = bib.records
    assert (lecun.origin, vaswani.origin) == ("export.ris:1", "export.ris:20")
    assert lecun.title == "Deep learning"
    assert lecun.authors == ("LeCun, Yann", "Bengio, Yoshua", "Hinton, Geoffrey")
    assert (lecun.year, lecun.container, lecun.pages, lecun.doi) == (2015, "Nature", "436-444", "10.1038/nature14539")
    assert lecun.item_type == "article-journal" and lecun.language == "en"
    assert lecun.keywords == ("deep learning", "representation learning")
    assert lecun.files == ("/home/ana/Zotero/storage/7XK2M9QP/LeCun et al. - 2015 - Deep learning.pdf",)
    assert (vaswani.item_type, vaswani.pages, vaswani.year) == ("paper-conference", "5998-6008", 2017)


def test_ris_saved_in_gbk_from_cnki(tmp_path: Path) -> None:
    bib = read_bibliography(write(tmp_path, "CNKI-export.ris", CNKI_RIS_GBK, "gbk"))
    article, thesis = bib.records
    assert article.title == "数字经济视域下跨境电商的发展机遇、困境与路径"
    assert article.authors == ("郭冉",)
    assert (article.container, article.year, article.volume, article.issue) == ("电子商务评论", 2025, "14", "06")
    assert (article.pages, article.doi) == ("135-142", "10.12677/ecl.2025.1461720")
    assert article.keywords == ("数字经济", "跨境电商", "发展路径")
    assert (thesis.item_type, thesis.authors, thesis.publisher) == ("thesis", ("陈静",), "对外经济贸易大学")


def test_a_ris_txt_is_sniffed_by_its_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, "savedrecs.txt", "\ufeff\n" + RIS)
    assert sniff(path) == "ris"
    assert len(read_bibliography(path).records) == 2


# ---------------------------------------------------------------- CSL-JSON

CSL = [
    {
        "id": "http://zotero.org/users/1/items/7XK2M9QP",
        "type": "article-journal",
        "title": "Deep learning",
        "container-title": "Nature",
        "volume": "521",
        "issue": "7553",
        "page": "436-444",
        "DOI": "10.1038/nature14539",
        "author": [
            {"family": "LeCun", "given": "Yann"},
            {"family": "Bengio", "given": "Yoshua"},
            {"family": "Hinton", "given": "Geoffrey"},
        ],
        "issued": {"date-parts": [[2015, 5, 28]]},
    },
    {
        "id": "guo2025",
        "type": "article-journal",
        "title": "数字经济视域下跨境电商的发展机遇、困境与路径",
        "container-title": "电子商务评论",
        "author": [{"family": "郭", "given": "冉"}, {"literal": "中国互联网络信息中心"}],
        "issued": {"date-parts": [["2025"]]},
        "keyword": "数字经济, 跨境电商",
        "language": "zh-CN",
    },
]


def test_csl_json_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "My Library.json", json.dumps(CSL, ensure_ascii=False, indent=2))
    assert sniff(path) == "csl-json"
    bib = read_bibliography(path)
    lecun, guo = bib.records
    assert lecun.origin == "My Library.json:2"
    assert lecun.authors == ("LeCun, Yann", "Bengio, Yoshua", "Hinton, Geoffrey")
    assert (lecun.title, lecun.year, lecun.container, lecun.pages, lecun.doi, lecun.item_type) == (
        "Deep learning",
        2015,
        "Nature",
        "436-444",
        "10.1038/nature14539",
        "article-journal",
    )
    assert guo.authors == ("郭冉", "中国互联网络信息中心")
    assert (guo.year, guo.keywords, guo.language) == (2025, ("数字经济", "跨境电商"), "zh-CN")


def test_bad_items_of_a_csl_json_file_are_named_and_the_good_ones_kept(tmp_path: Path) -> None:
    good = json.dumps(CSL[0], indent=2)
    bib = read_bibliography(write(tmp_path, "a.json", f'[\n{good},\n"Deep learning, LeCun 2015",\n{good}\n]'))
    after = 2 + good.count("\n") + 1  # the line after the first object
    assert [r.origin for r in bib.records] == ["a.json:2"]
    assert bib.problems[0] == f"a.json:{after}: item is not a CSL-JSON object; skipped"
    assert bib.problems[1].startswith(
        f"a.json:{after + 1}: duplicate citation key 'http://zotero.org/users/1/items/7XK2M9QP'"
    )
    truncated = write(
        tmp_path, "b.json", f'[\n{good},\n{{"id": "vaswani2017", "type": "paper-conference", "title": "Att'
    )
    bib = read_bibliography(truncated)
    assert [r.title for r in bib.records] == ["Deep learning"]
    assert bib.problems == (
        f"b.json:{after}: not valid JSON from here (Unterminated string starting on line {after}); records after "
        "it were not read: fix the file or export it again",
    )


def test_a_json_that_is_not_csl_is_not_a_bibliography(tmp_path: Path) -> None:
    assert sniff(write(tmp_path, "settings.json", '{"embedder": "e5", "k": 8}')) is None
    assert sniff(write(tmp_path, "eval.json", '[{"question": "什么是跨境电商？", "answer": "…"}]')) is None


# ---------------------------------------------------------------- CNKI's tagged .txt exports

CNKI_REFWORKS = """RT Journal Article
SR 1
A1 郭冉;
AD 贵州大学经济学院;
T1 数字经济视域下跨境电商的发展机遇、困境与路径
JF 电子商务评论
YR 2025
IS 06
vo 14
SP 135
OP 142
K1 数字经济;跨境电商;发展路径
AB 加强数字经济和实体经济的深度融合是当下经济发展的新趋势，
中国跨境电商也迎来了新一轮的发展机遇。
SN 2168-5843
LA 中文;
DS CNKI
DO 10.12677/ecl.2025.1461720

RT Dissertation
SR 1
A1 陈静;Li Ming;
T1 中国跨境电商出口的影响因素研究
PB 对外经济贸易大学
YR 2022
K1 跨境电商，出口，影响因素
LA 中文;
DS CNKI
"""

CNKI_ENDNOTE = """%0 Journal Article
%A 张伟
%A 李娜
%A Wang Fang
%+ 浙江工商大学管理学院,浙江 杭州;
%T 跨境电商综合试验区对城市出口贸易的影响
%J 电子商务评论
%D 2025
%V 14
%N 03
%K 跨境电商;综合试验区;出口贸易
%X 跨境电商综合试验区作为跨境电子商务先行先试的试验田。
%P 1130-1137
%@ 2168-5843
%R 10.12677/ecl.2025.143300
%W CNKI

%0 Conference Proceedings
%A 刘洋
%T 数字贸易背景下跨境电商物流的协同发展
%B 2024中国物流学术年会论文集
%D 2024
%P 45-52
%I 中国物流与采购联合会
%W CNKI
"""

CNKI_NOTEEXPRESS = """{Reference Type}: Journal Article
{Title}: 数字经济时代我国跨境电商高质量发展的路径研究
{Author}: 赵敏;孙磊;
{Author Address}: 安徽财经大学国际经济贸易学院;
{Journal}: 电子商务评论
{Year}: 2025
{Volume}: 14
{Issue}: 05
{Pages}: 2860-2868
{Keywords}: 数字经济;跨境电商;高质量发展
{Abstract}: 数字经济作为新一轮科技革命的核心驱动力，正以颠覆性力量重构全球贸易格局。
{ISBN/ISSN}: 2168-5843
{Database Provider}: CNKI

{Reference Type}: Newspaper Article
{Title}: 跨境电商进出口规模再创新高
{Author}: 周文;
{Secondary Title}: 经济日报
{Year}: 2025
{Pages}: 003
{Database Provider}: CNKI
"""


def test_refworks_txt_from_cnki(tmp_path: Path) -> None:
    path = write(tmp_path, "CNKI-638812.txt", CNKI_REFWORKS, "gbk")
    assert sniff(path) == "refworks"
    article, thesis = read_bibliography(path).records
    assert (article.origin, thesis.origin) == ("CNKI-638812.txt:1", "CNKI-638812.txt:20")
    assert article.title == "数字经济视域下跨境电商的发展机遇、困境与路径"
    assert article.authors == ("郭冉",)
    assert (article.container, article.year, article.volume, article.issue) == ("电子商务评论", 2025, "14", "06")
    assert (article.pages, article.doi, article.item_type) == (
        "135-142",
        "10.12677/ecl.2025.1461720",
        "article-journal",
    )
    assert article.keywords == ("数字经济", "跨境电商", "发展路径")
    assert article.abstract == (
        "加强数字经济和实体经济的深度融合是当下经济发展的新趋势， 中国跨境电商也迎来了新一轮的发展机遇。"
    )
    assert article.language == "zh"
    assert thesis.item_type == "thesis" and thesis.authors == ("陈静", "Ming, Li")
    assert (thesis.publisher, thesis.keywords) == ("对外经济贸易大学", ("跨境电商", "出口", "影响因素"))


def test_endnote_txt_from_cnki(tmp_path: Path) -> None:
    path = write(tmp_path, "CNKI-638813.txt", CNKI_ENDNOTE, "gb18030")
    assert sniff(path) == "endnote"
    article, paper = read_bibliography(path).records
    assert article.authors == ("张伟", "李娜", "Fang, Wang")
    assert (article.title, article.container, article.year) == (
        "跨境电商综合试验区对城市出口贸易的影响",
        "电子商务评论",
        2025,
    )
    assert (article.pages, article.doi, article.item_type) == (
        "1130-1137",
        "10.12677/ecl.2025.143300",
        "article-journal",
    )
    assert paper.origin == "CNKI-638813.txt:18"
    assert (paper.item_type, paper.container, paper.publisher) == (
        "paper-conference",
        "2024中国物流学术年会论文集",
        "中国物流与采购联合会",
    )
    assert sniff(write(tmp_path, "zotero.enw", CNKI_ENDNOTE)) == "endnote"


def test_noteexpress_txt_from_cnki(tmp_path: Path) -> None:
    path = write(tmp_path, "CNKI-638814.txt", "\ufeff" + CNKI_NOTEEXPRESS)
    assert sniff(path) == "noteexpress"
    article, news = read_bibliography(path).records
    assert article.authors == ("赵敏", "孙磊")
    assert (article.title, article.year, article.pages) == (
        "数字经济时代我国跨境电商高质量发展的路径研究",
        2025,
        "2860-2868",
    )
    assert (article.container, article.volume, article.issue, article.item_type) == (
        "电子商务评论",
        "14",
        "05",
        "article-journal",
    )
    assert (news.item_type, news.container, news.origin) == ("article-newspaper", "经济日报", "CNKI-638814.txt:15")


@pytest.mark.parametrize("paper", ["000_0ea6e26401eae5d1.txt", "001_4139313f3243f7e4.txt", "003_d0102665b7b2c82a.txt"])
def test_a_paper_txt_is_not_a_bibliography(paper: str) -> None:
    assert sniff(CORPUS / paper) is None


def test_text_that_only_starts_like_an_export_is_not_one(tmp_path: Path) -> None:
    # A note whose first line happens to read like a tag, but nothing tagged follows.
    assert (
        sniff(
            write(
                tmp_path, "notes.txt", "RT Journal Article on trade\nAn overview of cross-border e-commerce in 2025.\n"
            )
        )
        is None
    )
    assert sniff(write(tmp_path, "todo.txt", "%0 read these first\n- LeCun 2015\n")) is None


def test_bibliography_files_lists_only_bibliographies_in_the_folder(tmp_path: Path) -> None:
    write(tmp_path, "refs.bib", BIBTEX)
    write(tmp_path, "CNKI-638812.txt", CNKI_REFWORKS, "gbk")
    write(tmp_path, "library.json", json.dumps(CSL))
    write(tmp_path, "paper.txt", (CORPUS / "001_4139313f3243f7e4.txt").read_text(encoding="utf-8"))
    write(tmp_path, "settings.json", "{}")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "more.bib", BIBTEX)
    assert [p.name for p in bibliography_files(tmp_path)] == ["CNKI-638812.txt", "library.json", "refs.bib"]


# ---------------------------------------------------------------- unreadable files


def test_an_unreadable_or_undecodable_file_raises_a_corpus_error_naming_it(tmp_path: Path) -> None:
    binary = write(tmp_path, "refs.bib", "")
    binary.write_bytes(b"\x00\x01PK\x03\x04" * 200)
    with pytest.raises(CorpusError, match=r"refs\.bib.*export the bibliography again"):
        read_bibliography(binary)
    empty = write(tmp_path, "export.ris", "   \n")
    with pytest.raises(CorpusError, match=r"export\.ris is empty"):
        read_bibliography(empty)
    (tmp_path / "folder.bib").mkdir()
    with pytest.raises(CorpusError, match=r"folder\.bib cannot be read"):
        read_bibliography(tmp_path / "folder.bib")


def test_a_paper_given_as_a_bibliography_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"001_4139313f3243f7e4\.txt is not a bibliography file"):
        read_bibliography(CORPUS / "001_4139313f3243f7e4.txt")
    with pytest.raises(CorpusError, match=r"settings\.json is not a bibliography file"):
        read_bibliography(write(tmp_path, "settings.json", "{}"))


# ---------------------------------------------------------------- matching


def rec(origin: str, title: str, doi: str | None = None, files: tuple[str, ...] = ()) -> BibRecord:
    return BibRecord(origin=origin, title=title, doi=doi, files=files)


LECUN = rec("refs.bib:2", "Deep learning", "10.1038/nature14539")
VASWANI = rec("refs.bib:16", "Attention is All you Need")
GUO = rec(
    "CNKI.txt:1",
    "数字经济视域下跨境电商的发展机遇、困境与路径",
    files=("storage/ABCD1234/郭冉 - 2025 - 数字经济视域下跨境电商的发展机遇、困境与路径.pdf",),
)


def test_match_by_doi_ignoring_case_and_prefix() -> None:
    m = match_records([LECUN], [PaperKeys("lecun2015.pdf", doi="https://doi.org/10.1038/NATURE14539", title=None)])
    assert m.by_paper == {"lecun2015.pdf": (LECUN, "DOI")}
    assert m.unmatched_records == () and m.conflicts == ()


def test_match_by_title_despite_punctuation_spacing_width_and_case() -> None:
    papers = [
        PaperKeys("vaswani.pdf", None, "ATTENTION IS ALL YOU NEED."),
        PaperKeys("001.txt", None, "数字经济视域下跨境电商的发展机遇，困境与路径"),
    ]
    fullwidth = rec("refs.bib:30", "ＡＴＴＥＮＴＩＯＮ　ｉｓ　ａｌｌ—ｙｏｕ ｎｅｅｄ！")
    m = match_records([VASWANI, rec("CNKI.txt:1", "数字经济视域下 跨境电商的发展机遇、困境与路径 ")], papers)
    assert {name: how for name, (_, how) in m.by_paper.items()} == {"vaswani.pdf": "title", "001.txt": "title"}
    assert match_records([fullwidth], papers[:1]).by_paper["vaswani.pdf"] == (fullwidth, "title")


def test_short_titles_never_match() -> None:
    assert title_key("Preface") is None and title_key("摘要") is None
    assert len(title_key("Deep learning") or "") >= MIN_TITLE_CHARS
    m = match_records(
        [rec("refs.bib:1", "Preface"), rec("refs.bib:5", "引言")],
        [
            PaperKeys("a.pdf", None, "Preface"),
            PaperKeys("b.txt", None, "引言"),
        ],
    )
    assert m.by_paper == {} and len(m.unmatched_records) == 2


def test_match_by_file_name_from_a_zotero_path() -> None:
    papers = [
        PaperKeys("corpus/郭冉 - 2025 - 数字经济视域下跨境电商的发展机遇、困境与路径.PDF", None, None),
        PaperKeys("x.pdf", None, None),
    ]
    jabref = rec("refs.bib:40", "Some other title", files=(r"C:\Users\ana\Papers\files\12\x.pdf",))
    m = match_records([GUO, jabref], papers)
    assert m.by_paper[papers[0].name] == (GUO, "file name")
    assert m.by_paper["x.pdf"] == (jabref, "file name")


def test_doi_beats_title_beats_file_name() -> None:
    paper = PaperKeys("nature14539.pdf", doi="10.1038/nature14539", title="Deep learning")
    by_file = rec("a.ris:1", "A record about something else", files=("storage/Q1/nature14539.pdf",))
    by_title = rec("a.ris:9", "Deep Learning")
    by_doi = rec("a.ris:20", "Deep learning (author manuscript)", doi="10.1038/NATURE14539")
    m = match_records([by_file, by_title, by_doi], [paper])
    assert m.by_paper == {"nature14539.pdf": (by_doi, "DOI")}
    assert m.unmatched_records == (by_file, by_title)
    assert m.conflicts == (
        "two records claim nature14539.pdf: a.ris:20 (by DOI) and a.ris:9 (by title); using a.ris:20",
        "two records claim nature14539.pdf: a.ris:20 (by DOI) and a.ris:1 (by file name); using a.ris:20",
    )
    m = match_records([by_file, by_title], [paper])
    assert m.by_paper["nature14539.pdf"] == (by_title, "title")


def test_equal_evidence_goes_to_the_earlier_record_and_is_reported() -> None:
    paper = PaperKeys("vaswani.pdf", None, "Attention is all you need")
    again = rec("refs.bib:60", "Attention Is All You Need")
    m = match_records([VASWANI, again], [paper])
    assert m.by_paper == {"vaswani.pdf": (VASWANI, "title")}
    assert m.conflicts == (
        "two records claim vaswani.pdf: refs.bib:16 (by title) and refs.bib:60 (by title); using refs.bib:16",
    )
    twice = [PaperKeys("a/x.pdf", None, None), PaperKeys("b/x.pdf", None, None)]
    m = match_records([rec("z.ris:1", "Deep residual learning", files=("x.pdf",))], twice)
    assert list(m.by_paper) == ["a/x.pdf"]
    assert m.conflicts == ("z.ris:1 matches both a/x.pdf and b/x.pdf by file name; using a/x.pdf",)


def test_a_record_that_matches_no_paper_is_listed_as_unmatched() -> None:
    papers = [PaperKeys("lecun.pdf", "10.1038/nature14539", "Deep learning")]
    m = match_records([LECUN, VASWANI, GUO], papers)
    assert list(m.by_paper) == ["lecun.pdf"]
    assert m.unmatched_records == (VASWANI, GUO)


def test_a_missing_comma_between_fields_is_named_not_silently_glued(tmp_path: Path) -> None:
    # bibtexparser reads `title = {…}` followed by `author = …` with no comma as one glued title;
    # two entries of that kind are named with their lines, and "x = y" inside a title is not.
    path = tmp_path / "refs.bib"
    path.write_text(
        "@article{broken,\n  title = {Missing comma here}\n  author = {Doe, John}\n}\n"
        "@article{b2,\n  title = {Fine title},\n  journal = {Nature}\n  year = {2015}\n}\n"
        "@article{ok, title = {Equations: x = y in prose}, author = {A, B}}\n",
        encoding="utf-8",
    )
    bib = read_bibliography(path)
    assert bib.problems == (
        "refs.bib:1: entry 'broken': its title holds 'author =…', a field with no comma before it; add the comma",
        "refs.bib:5: entry 'b2': its journal holds 'year =…', a field with no comma before it; add the comma",
    )
    assert [r.title for r in bib.records][2] == "Equations: x = y in prose"
