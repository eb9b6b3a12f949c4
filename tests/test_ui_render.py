"""What the chat shows, from answer dictionaries: pure functions, no browser, no model."""

from __future__ import annotations

from ui import render

TEXT = (
    "三是在政策环境方面，贸易伙伴多元化趋势明显。我国已经成为 150 多个国家和地区的主要贸易伙伴，"
    "外贸“朋友圈”越来越大，货物贸易总额连续 7 年居全球第一[7]。2016 年底，商务部与智利外交部签署…"
)


def citation(n: int = 1, sentence: str = "", **extra: object) -> dict:
    return {
        "n": n,
        "doc_id": "000_x",
        "title": "中国跨境电商发展的困境及其对策研究",
        "section": "3. 特点",
        "page": "137",
        "text": TEXT,
        "score": 0.1429,
        "sentence": sentence,
        "key": f"000_x:{n}",
        "doi": "10.12677/ecl.2025.1461855",
        **extra,
    }


def test_cited_sentence_is_marked_even_when_the_answer_dropped_the_papers_own_marker() -> None:
    stripped = "我国已经成为 150 多个国家和地区的主要贸易伙伴，外贸“朋友圈”越来越大，货物贸易总额连续 7 年居全球第一。"
    html = render.highlighted_quote(TEXT, stripped)
    marked = html.split("<mark>")[1].split("</mark>")[0]
    assert marked.startswith("我国已经成为 150 多个") and marked.endswith("全球第一[7]。")
    assert html.count("<mark>") == 1


def test_unfound_sentence_shows_the_passage_unmarked() -> None:
    assert "<mark>" not in render.highlighted_quote(TEXT, "这句话不在段落里。")


def test_markers_link_to_their_source_cards_and_text_is_escaped() -> None:
    answer = {
        "answer": "A <b>x</b> 句子。[1] 另一句。[2]",
        "abstained": False,
        "citations": [citation(1)],
        "standalone_question": "q",
        "question": "q",
    }
    html = render.chat_message(answer, "m1")
    assert '<a class="rag-cite" href="#src-m1-1"' in html
    assert "[2]" in html and "#src-m1-2" not in html  # no citation 2: plain text, not a dead link
    assert "&lt;b&gt;" in html and "<b>" not in html
    panel = render.turn_panel({**answer, "passages": [citation(1)]}, "m1", 1)
    assert 'id="src-m1-1"' in panel and "score 0.143" in panel and "p. 137" in panel


def test_abstention_lists_related_passages_not_sources() -> None:
    answer = {
        "question": "红烧肉怎么做？",
        "answer": "所检索的论文中没有找到这个问题的答案。",
        "abstained": True,
        "citations": [],
        "passages": [citation(1), citation(2)],
        "standalone_question": "红烧肉怎么做？",
    }
    bubble = render.chat_message(answer, "m2")
    assert "所检索的论文中没有找到这个问题的答案" in bubble and "rag-cite" not in bubble
    panel = render.turn_panel(answer, "m2", 1)
    assert "相关段落" in panel and "src-m2-" not in panel and panel.count('class="rag-src"') == 2


def test_untitled_papers_say_so() -> None:
    assert render.display_title("004_af3a", "004_af3a") == "题名未知 untitled · 004_af3a"
    assert render.display_title("真题名", "004_af3a") == "真题名"


def test_a_notice_about_the_input_comes_first_in_the_bubble_and_is_escaped() -> None:
    answer = {"answer": "答案。[1]", "abstained": False, "citations": [citation(1)], "question": "q"}
    note = "问题过长，已缩短 question shortened: 2069 → 1938 characters (limit 2000); kept <the> question"
    html = render.chat_message(answer, "m3", notices=[note])
    assert html.index("rag-notice") < html.index("rag-answer") and "kept &lt;the&gt; question" in html
    assert "rag-notice" not in render.chat_message(answer, "m3")
