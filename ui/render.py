"""HTML and text for the chat UI, from `Answer.to_dict()` dictionaries: pure functions, no Gradio,
no model, so they are tested without a browser.

Ids tie the two halves of the page together: the marker `[n]` of answer `mid` in the chat is a link
to `#src-<mid>-<n>`, the id of that citation's card in the sources panel.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import rag

MARKER = rag.CITATION_MARKER  # the answer's [n]
# Whitespace and the papers' own reference markers ("[7]", "[3, 4]") that the answer drops from a
# quoted sentence but the chunk text still has.
_GAP = r"(?:\s|\[\d+(?:\s*[,，\-–]\s*\d+)*\])*"

RELATED_HINT = "相关段落列在“出处”一栏，仅供参考，不是出处。 Related passages are listed under Sources, not as sources."
ABSTAIN_NOTE = "以下是最接近的段落，仅供参考，不是答案的出处。 Closest passages, for reference only — not sources."


def source_id(mid: str, n: int) -> str:
    return f"src-{mid}-{n}"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _multiline(text: str) -> str:
    """Escaped text with line breaks as <br>, so a chat message stays one raw HTML block that the
    Markdown renderer leaves alone (a blank line would end the block)."""
    return re.sub(r"[ \t]*\n\s*", "<br>", _esc(text))


def link_markers(answer_text: str, mid: str, known: Iterable[int]) -> str:
    """Escaped answer text whose [n] markers are links to their source cards. A marker with no
    citation of that number stays plain text rather than a dead link."""
    numbers = set(known)
    out: list[str] = []
    last = 0
    for m in MARKER.finditer(answer_text):
        out.append(_multiline(answer_text[last : m.start()]))
        n = int(m.group(1))
        if n in numbers:
            out.append(f'<a class="rag-cite" href="#{source_id(mid, n)}" title="来源 source {n}">[{n}]</a>')
        else:
            out.append(_esc(m.group(0)))
        last = m.end()
    out.append(_multiline(answer_text[last:]))
    return "".join(out)


def sentence_span(text: str, sentence: str) -> tuple[int, int] | None:
    """Where `sentence` lies in `text`: verbatim, or else ignoring whitespace and the papers' own
    reference markers (which the answer strips from quoted sentences)."""
    sentence = sentence.strip()
    if not sentence:
        return None
    start = text.find(sentence)
    if start >= 0:
        return start, start + len(sentence)
    chars = [c for c in rag.SOURCE_REF.sub("", sentence) if not c.isspace()]
    if not chars:
        return None
    m = re.search(_GAP.join(re.escape(c) for c in chars), text)
    return (m.start(), m.end()) if m else None


def highlighted_quote(text: str, sentence: str) -> str:
    """The escaped passage with the cited sentence in <mark>."""
    span = sentence_span(text, sentence)
    if span is None:
        return _multiline(text)
    a, b = span
    return f"{_multiline(text[:a])}<mark>{_multiline(text[a:b])}</mark>{_multiline(text[b:])}"


def chat_message(answer: Mapping[str, Any], mid: str, notices: Sequence[str] = ()) -> str:
    """The assistant's chat bubble: answer text with linked markers, and the question searched.
    `notices` are what the user must know about their input (e.g. that it was shortened)."""
    numbers = [c["n"] for c in answer.get("citations", [])]
    if answer.get("abstained"):
        body = (
            f'<div class="rag-abstain">{_esc(answer["answer"])}</div><div class="rag-hint">{_esc(RELATED_HINT)}</div>'
        )
    elif answer.get("mode", "extractive") != "extractive" and answer.get("sentences"):
        body = f'<div class="rag-answer rag-written">{verified_sentences(answer, mid)}</div>'
    else:
        body = f'<div class="rag-answer">{link_markers(answer["answer"], mid, numbers)}</div>'
    searched = answer.get("standalone_question") or answer.get("question") or ""
    notes = "".join(f'<div class="rag-hint rag-notice">{_esc(n)}</div>' for n in notices)
    return (
        f'<div class="rag-msg" id="msg-{_esc(mid)}">{notes}{body}'
        f'<div class="rag-standalone">检索问题 searched: {_esc(searched)}</div></div>'
    )


VERDICT = {True: ("✓", "rag-ok", "已核对 verified"), False: ("⚠", "rag-bad", "未获引文支持 unsupported")}


def verified_sentences(answer: Mapping[str, Any], mid: str) -> str:
    """A written (generated) answer sentence by sentence: each with its linked [n], its verdict
    (✓ verified / ⚠ unsupported, the reason on hover) and, one click away, the quotes it cites
    in their original language. Sentences the answer dropped are not shown."""
    quotes = {c["n"]: c for c in answer.get("citations", [])}
    text = answer.get("answer", "")
    out = []
    for check in answer["sentences"]:
        if check.get("reason") == "abstention" or check["text"] not in text:
            continue
        mark, cls, label = VERDICT[bool(check["supported"])]
        cited = [n for n in check.get("citations", []) if n in quotes]
        links = "".join(
            f'<a class="rag-cite" href="#{source_id(mid, n)}" title="来源 source {n}">[{n}]</a>' for n in cited
        )
        evidence = "".join(
            f'<blockquote class="rag-ev-quote"><span class="rag-n">[{n}]</span> '
            f"{_esc(quotes[n].get('sentence') or quotes[n]['text'][:200])}</blockquote>"
            for n in cited
        )
        reason = f"{label}: {check.get('reason', '')}"
        out.append(
            f'<span class="rag-sent {cls}">{_esc(check["text"])}{links}'
            f'<details class="rag-ev"><summary title="{_esc(reason)}">{mark} 原文 quote</summary>'
            f"{evidence or _esc(reason)}</details></span>"
        )
    return " ".join(out) if out else link_markers(text, mid, quotes)


def error_message(message: str) -> str:
    return f'<div class="rag-error">出错了 Error: {_esc(message)}</div>'


def display_title(title: str, doc_id: str) -> str:
    """Titles the index does not know are the file stem; say so instead of passing it off as a title."""
    if not title or title == doc_id:
        return f"题名未知 untitled · {doc_id}"
    return title


def byline(authors: Sequence[str], year: object) -> str:
    """ "郭冉 · 2025", "Vaswani, Ashish, Shazeer, Noam 等 et al. · 2017": the first three authors and the year."""
    names = list(authors or ())
    text = "; ".join(names[:3]) + (" 等 et al." if len(names) > 3 else "")
    return " · ".join(x for x in (text, str(year) if year else "") if x)


def _byline(item: Mapping[str, Any]) -> str:
    text = byline(item.get("authors") or (), item.get("year"))
    return f'<div class="rag-byline">{_esc(text)}</div>' if text else ""


def _card(item: Mapping[str, Any], card_id: str, label: str, *, highlight: bool) -> str:
    where = [x for x in (item.get("section"), f"p. {item['page']}" if item.get("page") else None) if x]
    meta = " · ".join([*where, f"score {float(item.get('score', 0.0)):.3f}"])
    doi = f' · DOI <span class="rag-doi">{_esc(item["doi"])}</span>' if item.get("doi") else ""
    if item.get("open_url"):  # the PDF itself, at the page the passage starts on
        doi += (
            f' · <a class="rag-open" href="{_esc(item["open_url"])}" target="_blank" rel="noopener">打开 PDF open</a>'
        )

    quote = highlighted_quote(item["text"], item.get("sentence", "")) if highlight else _multiline(item["text"])
    for sentence in item.get("untrusted") or ():  # planted instructions: shown, marked, never followed
        marked = _esc(sentence)
        quote = quote.replace(
            marked,
            f'<span class="rag-untrusted" title="指令式文字，已忽略 instruction-like text, ignored">⚠ {marked}</span>',
        )
    return (
        f'<article class="rag-src" id="{_esc(card_id)}">'
        f'<div class="rag-src-head"><span class="rag-n">{_esc(label)}</span> '
        f'<span class="rag-title">{_esc(display_title(item.get("title", ""), item.get("doc_id", "")))}</span></div>'
        f"{_byline(item)}"
        f'<div class="rag-meta">{_esc(meta)}{doi}</div>'
        f'<blockquote class="rag-quote">{quote}</blockquote></article>'
    )


def turn_panel(answer: Mapping[str, Any], mid: str, number: int) -> str:
    """The sources of one answer, or its related passages when it abstained."""
    head = f'<h4 class="rag-turn-q">Q{number} · {_esc(answer.get("question", ""))}</h4>'
    if answer.get("abstained"):
        cards = "".join(
            _card(p, f"rel-{mid}-{p['n']}", f"#{p['n']}", highlight=False) for p in answer.get("passages", [])
        )
        body = (
            f'<div class="rag-kind rag-kind-related">相关段落 Related passages (not sources)</div>'
            f'<p class="rag-hint">{_esc(ABSTAIN_NOTE)}</p>{cards or "<p>（无 none）</p>"}'
        )
    else:
        cited = {c["key"] for c in answer.get("citations", [])}
        cards = "".join(_card(c, source_id(mid, c["n"]), f"[{c['n']}]", highlight=True) for c in answer["citations"])
        others = [p for p in answer.get("passages", []) if p["key"] not in cited]
        more = ""
        if others:
            inner = "".join(_card(p, f"psg-{mid}-{p['n']}", f"#{p['n']}", highlight=False) for p in others)
            more = (
                f'<details class="rag-more"><summary>其他检索到的段落 Other retrieved passages ({len(others)})'
                f"</summary>{inner}</details>"
            )
        body = f'<div class="rag-kind">来源 Sources</div>{cards}{more}'
    return f'<section class="rag-turn" id="turn-{_esc(mid)}">{head}{body}</section>'


def sources_panel(turns: Sequence[Mapping[str, Any]]) -> str:
    """All answered turns, newest first, so a marker in an older message still finds its card."""
    answered = [(i, t) for i, t in enumerate(turns, 1) if t.get("answer")]
    if not answered:
        return '<div class="rag-empty">答案的出处会显示在这里。 Sources of each answer appear here.</div>'
    return "".join(turn_panel(t["answer"], t["mid"], i) for i, t in reversed(answered))


LIBRARY_HEADERS = [
    "题名 Title",
    "作者 Authors",
    "年 Year",
    "刊名 Journal",
    "DOI",
    "元数据来源 Metadata from",
    "段落 Chunks",
    "doc_id",
]


def library_rows(papers: Iterable[Any], counts: Mapping[str, int]) -> list[list[object]]:
    """One row per paper (LIBRARY_HEADERS): its metadata, where the title and authors came from,
    and how many chunks it has."""
    rows = []
    for p in papers:
        sources = dict(p.sources)
        origin = "; ".join(f"{field}: {sources[field]}" for field in ("title", "authors", "year") if field in sources)
        rows.append(
            [
                display_title(p.title, p.doc_id),
                "; ".join(p.authors) or "—",
                p.year or "—",
                p.journal or "—",
                p.doi or "—",
                origin or "文件名 file name only",
                counts.get(p.doc_id, 0),
                p.doc_id,
            ]
        )
    return rows


def paper_choices(papers: Iterable[Any]) -> list[tuple[str, str]]:
    """(label, doc_id) pairs for the "restrict to papers" checkboxes."""
    return [(display_title(p.title, p.doc_id), p.doc_id) for p in papers]


def draft_message(text: str) -> str:
    """A generated answer while it streams: plain, escaped text; citations come at the end."""
    return f'<div class="rag-draft">{html.escape(text)}<span class="rag-working"> …</span></div>'
