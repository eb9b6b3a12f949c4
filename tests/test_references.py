"""Reference export: GB/T 7714-2025 and -2015 checked against examples printed in the standards
(as reproduced by the zotero-chinese style tests), and BibTeX/RIS/CSL-JSON read back by the
parsers reference managers use."""

from __future__ import annotations

import json

import pytest

import rag
from rag.types import Citation, Paper


def paper(title: str, **fields: object) -> Paper:
    base: dict[str, object] = {"doc_id": "d", "doi": None, "source": "d.pdf", "sha256": "", "title_known": True}
    return Paper(title=title, **(base | fields))  # type: ignore[arg-type]


YU = paper(
    "互联网药品可信交易环境中主体资质审核备案模式",
    authors=("于潇", "刘义", "柴跃廷", "孔勇", "刘国杰"),
    year=2012,
    journal="清华大学学报（自然科学版）",
    volume="52",
    issue="11",
    pages="1518-1523",
)
YANG = paper("四库馆私家抄校书考略", authors=("杨洪升",), year=2013, journal="文献", issue="1", pages="56-75")
DES_MARAIS = paper(
    "Carbon isotope evidence for the stepwise oxidation of the Proterozoic environment",
    authors=("Des Marais, David J.", "Strauss, Harald", "Summons, Roger E.", "Hayes, J. M."),
    year=1992,
    journal="Nature",
    volume="359",
    pages="605-609",
)
CAPLAN = paper(
    "Cataloging internet resources",
    authors=("Priscilla Caplan",),  # as a PDF's first page writes it: given name first
    year=1993,
    journal="The Public-Access Computer Systems Review",
    volume="4",
    issue="2",
    pages="61-66",
)
ZHANG_BOOK = paper(
    "全唐五代诗格汇考", authors=("张伯伟",), year=2002, item_type="book", place="南京", publisher="江苏古籍出版社"
)
WANG_THESIS = paper(
    "融合星载GNSS-R和SAR数据的高时空分辨率土壤湿度反演方法研究",
    authors=("王琦",),
    year=2022,
    item_type="thesis",
    place="武汉",
    publisher="武汉大学",
)
CAIRNS_THESIS = paper(
    "Infrared spectroscopic studies on solid oxygen",
    authors=("Cairns, B. R.",),
    year=1965,
    item_type="thesis",
    place="Berkeley",
    publisher="University of California",
)
XIAO_PROCEEDINGS = paper(
    "民国图书馆学教育的社会贡献",
    authors=("肖希明", "石庆功", "刘奕"),
    year=2024,
    item_type="paper-conference",
    journal="纪念北京大学图书馆学教育100周年研讨会论文集",
    place="北京",
    publisher="北京大学信息管理系",
    pages="134-147",
)

EXAMPLES_2025 = [
    (
        YU,
        None,
        "于潇，刘义，柴跃廷，等. 互联网药品可信交易环境中主体资质审核备案模式[J]. "
        "清华大学学报（自然科学版），2012，52（11）：1518-1523.",
    ),
    (YANG, None, "杨洪升. 四库馆私家抄校书考略[J]. 文献，2013（1）：56-75."),
    (
        DES_MARAIS,
        None,
        "Des Marais D J，Strauss H，Summons R E，et al. Carbon isotope evidence for the stepwise oxidation "
        "of the Proterozoic environment[J]. Nature，1992，359：605-609.",
    ),
    (
        CAPLAN,
        None,
        "Caplan P. Cataloging internet resources[J]. The Public-Access Computer Systems Review，1993，4（2）：61-66.",
    ),
    (ZHANG_BOOK, "288", "张伯伟. 全唐五代诗格汇考[M]. 南京：江苏古籍出版社，2002：288."),
    (
        WANG_THESIS,
        "87",
        "王琦. 融合星载GNSS-R和SAR数据的高时空分辨率土壤湿度反演方法研究[D]. 武汉：武汉大学，2022：87.",
    ),
    (
        CAIRNS_THESIS,
        "15",
        "Cairns B R. Infrared spectroscopic studies on solid oxygen[D]. Berkeley：University of California，1965：15.",
    ),
    (
        XIAO_PROCEEDINGS,
        None,
        "肖希明，石庆功，刘奕. 民国图书馆学教育的社会贡献[C]//纪念北京大学图书馆学教育100周年研讨会论文集. "
        "北京：北京大学信息管理系，2024：134-147.",
    ),
]

EXAMPLES_2015 = [
    (
        YU,
        None,
        "于潇, 刘义, 柴跃廷, 等. 互联网药品可信交易环境中主体资质审核备案模式[J]. "
        "清华大学学报（自然科学版）, 2012, 52(11): 1518-1523.",
    ),
    (YANG, None, "杨洪升. 四库馆私家抄校书考略[J]. 文献, 2013(1): 56-75."),
    (
        DES_MARAIS,
        None,
        "DES MARAIS D J, STRAUSS H, SUMMONS R E, et al. Carbon isotope evidence for the stepwise oxidation "
        "of the Proterozoic environment[J]. Nature, 1992, 359: 605-609.",
    ),
    (
        CAPLAN,
        None,
        "CAPLAN P. Cataloging internet resources[J]. The Public-Access Computer Systems Review, 1993, 4(2): 61-66.",
    ),
    (ZHANG_BOOK, "288", "张伯伟. 全唐五代诗格汇考[M]. 南京: 江苏古籍出版社, 2002: 288."),
    (
        CAIRNS_THESIS,
        "15",
        "CAIRNS B R. Infrared spectroscopic studies on solid oxygen[D]. Berkeley: University of California, 1965: 15.",
    ),
]


@pytest.mark.parametrize(("entry", "page", "expected"), EXAMPLES_2025)
def test_gbt7714_2025_matches_the_standards_examples(entry: Paper, page: str | None, expected: str) -> None:
    assert rag.reference(entry, "gbt7714-2025", page=page) == expected


@pytest.mark.parametrize(("entry", "page", "expected"), EXAMPLES_2015)
def test_gbt7714_2015_matches_the_standards_examples(entry: Paper, page: str | None, expected: str) -> None:
    assert rag.reference(entry, "gbt7714-2015", page=page) == expected


def test_2025_is_the_default_style() -> None:
    assert rag.reference(YANG) == rag.reference(YANG, "gbt7714-2025")
    assert "[1] 杨洪升. 四库馆私家抄校书考略[J]. 文献，2013（1）：56-75." in rag.reference_list([YANG])


def test_more_than_three_authors_keep_three_and_the_entrys_own_language_word() -> None:
    # Chinese entry -> "等", Western entry -> "et al.", chosen per entry in one list.
    chinese = paper(
        "跨境电商物流模式研究", doc_id="zh", authors=("甲一", "乙二", "丙三", "丁四"), year=2025, journal="电子商务评论"
    )
    western = paper(
        "Attention is all you need",
        doc_id="en",
        authors=("Vaswani, Ashish", "Shazeer, Noam", "Parmar, Niki", "Uszkoreit, Jakob"),
        year=2017,
    )
    text = rag.reference_list([chinese, western])
    assert "甲一，乙二，丙三，等. 跨境电商物流模式研究[J]." in text
    assert "Vaswani A，Shazeer N，Parmar N，et al. Attention is all you need[J]." in text
    assert "丁四" not in text and "Uszkoreit" not in text
    # A record's stated language decides even when the title's script would say otherwise.
    english_title_in_chinese_journal = paper(
        "Cross-border e-commerce logistics", authors=("张三", "李四", "王五", "赵六"), language="zh-CN", year=2025
    )
    assert rag.reference(english_title_in_chinese_journal).startswith("张三，李四，王五，等.")


def test_preprints_and_datasets_take_each_editions_type_code() -> None:
    preprint = paper(
        "Controlled manipulation of light by cooperative response of atoms in an optical lattice",
        authors=("Jenkins, S. D.", "Ruostekoski, J."),
        year=2012,
        item_type="article",
        journal="arXiv",
        url="https://doi.org/10.48550/arXiv.1112.6136",
    )
    assert rag.reference(preprint) == (
        "Jenkins S D，Ruostekoski J. Controlled manipulation of light by cooperative response of atoms in an "
        "optical lattice[PP/OL]. arXiv（2012）. https://doi.org/10.48550/arXiv.1112.6136."
    )
    assert "[EB/OL]. arXiv, 2012." in rag.reference(preprint, "gbt7714-2015")
    dataset = paper("1901—2023年中国1km分辨率逐月降水量数据集", authors=("彭守璋",), year=2024, item_type="dataset")
    assert "[DS]" in rag.reference(dataset) and "[DB]" in rag.reference(dataset, "gbt7714-2015")


def test_unknown_style_or_format_is_refused_with_the_choices() -> None:
    with pytest.raises(rag.RagError, match="gbt7714-2025"):
        rag.reference(YANG, "gbt7714-1987")
    with pytest.raises(rag.RagError, match="csl-json"):
        rag.export_references([YANG], "endnote-xml")


def test_bibtex_export_reads_back_in_bibtexparser() -> None:
    import bibtexparser

    text = rag.export_references([YU, DES_MARAIS, ZHANG_BOOK], "bibtex")
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    entries = {e.key: e for e in library.entries}
    assert set(entries) == {"yuxiao2012hulian", "desmarais1992carbon", "zhangbowei2002quantang"}
    yu = entries["yuxiao2012hulian"]
    assert yu.entry_type == "article" and yu["pages"] == "1518--1523" and yu["journal"] == "清华大学学报（自然科学版）"
    assert entries["desmarais1992carbon"]["author"].startswith("Des Marais, David J. and Strauss, Harald")
    assert entries["zhangbowei2002quantang"].entry_type == "book"


def test_ris_and_csl_json_exports_read_back() -> None:
    import rispy

    records = rispy.loads(rag.export_references([YU, CAPLAN], "ris"))
    assert [r["type_of_reference"] for r in records] == ["JOUR", "JOUR"]
    assert records[0]["authors"][:2] == ["于潇", "刘义"] and records[0]["start_page"] == "1518"
    assert records[1]["authors"] == ["Caplan, Priscilla"]
    items = json.loads(rag.export_references([YU, CAPLAN], "csl-json"))
    assert items[0]["author"][0] == {"literal": "于潇"} and items[0]["issued"] == {"date-parts": [[2012]]}
    assert items[1]["author"] == [{"family": "Caplan", "given": "Priscilla"}]
    assert items[1]["container-title"] == "The Public-Access Computer Systems Review"


def test_writing_footnotes_give_the_cited_printed_page() -> None:
    cited = Citation(
        n=1,
        doc_id="d",
        title=ZHANG_BOOK.title,
        section="引言",
        page="137",
        text="跨境电商规模扩大。",
        score=1.0,
        sentence="跨境电商规模扩大。",
        key="d:0",
    )
    answer = rag.Answer(
        question="q",
        answer="跨境电商规模扩大[1]。",
        abstained=False,
        language="zh",
        citations=(cited,),
        passages=(cited,),
        timings_ms={},
    )
    text = rag.markdown_for_writing(answer, {"d": ZHANG_BOOK})
    assert "[^1]: 张伯伟. 全唐五代诗格汇考[M]. 南京：江苏古籍出版社，2002：137." in text
    text_2015 = rag.markdown_for_writing(answer, {"d": ZHANG_BOOK}, style="gbt7714-2015")
    assert "南京: 江苏古籍出版社, 2002: 137." in text_2015


def test_rag_export_writes_the_index_library(settings: rag.Settings, tmp_path, capsys) -> None:  # noqa: ANN001
    from rag.cli import main

    out = tmp_path / "library.json"
    assert main(["export", "--index", str(settings.index_dir), "--format", "csl-json", "-o", str(out)]) == 0
    items = {item["id"]: item for item in json.loads(out.read_text(encoding="utf-8"))}
    assert len(items) == 5
    assert items["000_0ea6e26401eae5d1"]["title"] == "中国跨境电商发展的困境及其对策研究"
    assert "title" not in items["002_268bfb1f0d63e3bd"]  # unknown titles are not faked with the file stem
    assert main(["export", "--index", str(settings.index_dir), "--doc", "001_4139313f3243f7e4"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("[1] 郭冉. （题名未知 untitled: 001_4139313f3243f7e4.txt）[J]. 电子商务评论，2025.")
    assert main(["export", "--index", str(settings.index_dir), "--doc", "nope"]) == 1
    assert "No paper nope" in capsys.readouterr().err
