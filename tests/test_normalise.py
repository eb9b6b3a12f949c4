"""Matching through fold(): full-width forms, radicals from PDF text and traditional characters
meet the papers' own forms, while chunk text and quotes stay as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rag
from rag.lexical import Lexical, english_terms, named_terms, tokenize
from rag.normalise import fold

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
PAPER_000 = CORPUS / "000_0ea6e26401eae5d1.txt"
PAPER_002 = CORPUS / "002_268bfb1f0d63e3bd.txt"


def _best_chunk(chunks: list[rag.Chunk], question: str) -> rag.Chunk:
    lexical = Lexical([tokenize(c.text) for c in chunks])
    return chunks[int(lexical.scores(tokenize(question)).argmax())]


@pytest.fixture(scope="module")
def chunks_000() -> list[rag.Chunk]:
    return rag.chunk_paper(rag.read_paper(PAPER_000))


def test_fold_keeps_every_real_paper_aligned_character_for_character() -> None:
    for path in sorted(CORPUS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        assert len(fold(text)) == len(text), path.name
    # The same holds where every step changes something: width, radical, traditional, case.
    mixed = "２０１９年，阿⾥巴巴與亞⻢遜在ＲＣＥＰ框架下的乾燥地區"
    assert fold(mixed) == "2019年,阿里巴巴与亚马逊在rcep框架下的干燥地区"
    assert len(fold(mixed)) == len(mixed)


def test_a_match_in_folded_text_is_at_the_same_offsets_in_the_original() -> None:
    passage = "如阿⾥巴巴国际站、亚⻢逊等"  # radicals as pdf text extraction leaves them
    i = fold(passage).find(fold("亚马逊"))
    assert passage[i : i + 3] == "亚⻢逊"
    j = fold("ＲＣＥＰ成员国").find("rcep")
    assert "ＲＣＥＰ成员国"[j : j + 4] == "ＲＣＥＰ"


def test_full_width_digits_tokenise_like_ascii_and_the_year_is_visible() -> None:
    full, plain = "２０１９年中国跨境电商的交易规模是多少？", "2019年中国跨境电商的交易规模是多少？"
    assert tokenize(full) == tokenize(plain)
    assert "2019" in tokenize(full)
    # What the abstention code's year check sees once it folds the question.
    assert re.findall(r"(?<!\d)20\d\d(?!\d)", fold(full)) == ["2019"]
    # Second example: a full-width figure finds the real passage that states it.
    assert tokenize("１５０多个国家") == tokenize("150多个国家")


def test_full_width_latin_names_match_the_papers(chunks_000: list[rag.Chunk]) -> None:
    assert tokenize("ＲＣＥＰ") == ["rcep"] and english_terms("What did ＲＣＥＰ change?") == ["rcep", "change"]
    # named_terms reports the name as the user wrote it; its folded form is what the papers contain.
    assert named_terms("ＲＣＥＰ对跨境电商有什么影响？") == ["ＲＣＥＰ"]
    body = fold("\n".join(c.text for c in chunks_000))
    assert fold("ＲＣＥＰ") in body and fold("Ｂ２Ｃ") in body


def test_traditional_question_is_not_a_name_the_papers_never_mention(chunks_000: list[rag.Chunk]) -> None:
    traditional = "中國已成為多少個國家和地區的主要貿易夥伴？"
    simplified = "中国已成为多少个国家和地区的主要贸易伙伴？"
    # 中國 is the generic 中国, not an unknown name to abstain on.
    assert named_terms(traditional) == named_terms(simplified) == []
    assert tokenize(traditional) == tokenize(simplified)
    best = _best_chunk(chunks_000, traditional)
    assert "我国已经成为 150 多个国家和地区的主要贸易伙伴" in best.text
    # Second example: a traditional name is found in the simplified paper.
    assert fold("阿里巴巴國際站") in fold(PAPER_000.read_text(encoding="utf-8"))
    assert named_terms("阿里巴巴國際站成立於哪一年？") == ["阿里巴巴"]


def test_radicals_from_pdf_text_match_while_quotes_stay_as_written(tmp_path: Path) -> None:
    # A copy of a real paper as a PDF extractor can leave it: a Kangxi radical (U+2FA5) in
    # 阿里巴巴 and CJK Radicals Supplement forms (U+2EE2 horse, U+2ED3 long) in 亚马逊 and 增长.
    text = PAPER_002.read_text(encoding="utf-8")
    pdfish = text.replace("阿里巴巴", "阿\u2fa5巴巴").replace("亚马逊", "亚\u2ee2逊").replace("增长", "增\u2ed3")
    path = tmp_path / PAPER_002.name
    path.write_text(pdfish, encoding="utf-8")
    chunks = rag.chunk_paper(rag.read_paper(path))
    best = _best_chunk(chunks, "哪些第三方跨境电商平台帮助中小微企业销售产品？阿里巴巴和亚马逊")
    assert "阿\u2fa5巴巴国际站、亚\u2ee2逊" in best.text  # the quote is the source's text
    assert fold("阿里巴巴") in fold(best.text) and fold("亚马逊") in fold(best.text)
    # Second example: the supplement radical in 增长 (NFKC leaves it) still tokenises as 增长.
    grown = [c for c in chunks if "增\u2ed3" in c.text]
    assert grown and all("增长" in tokenize(c.text) for c in grown)
