"""Conversations: the one history format (`Turn`) and the one condenser that turns a follow-up
into a question that can be searched on its own. Without a language model it resolves against
the last turn only (older turns are already folded into its standalone form):

    item reference   "那第二个呢？", "the second one?"  -> the last list answer's second item (of
                     the enumeration it quotes, "(1) …(2) …"), told in full by the pipeline;
                     with words of its own ("Under the second bottleneck, why …?") the item
                     and those words
    topic switch     "那支付方面呢？", "what about payments?" after "跨境电商物流面临哪些问题？"
                     -> the last question with its topic replaced: "跨境电商支付面临哪些问题？"
                     (in the slot of the word that shares the follow-up's frame, "…物流方面…",
                     else the last question's most specific term)
    back-reference   "它的增长率是多少？" -> searched together with the last standalone question
    anything else    a new subject, searched as it is (also after a follow-up word, when what
                     follows it is a question of its own: "另外问一下，…？")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from .text import HAN, WORD_CHAR, YEAR, enumeration_items_in, language_of, shape, strip_citations
from .types import Answer, Turn

__all__ = ["Turn", "as_turns", "condense", "answer_items", "item_reference", "earlier_item"]

# (term, weight) pairs of a text: how specific each of its terms is (idf), from the index.
Weigher = Callable[[str], list[tuple[str, float]]]

_LEAD = re.compile(
    r"^(?:那么|那|还有|另外|此外|再说说|说说|再问一下|and\s+(?:what|how)\s+about|what\s+about|how\s+about|and|also)\s*[,，]?\s*",
    re.I,
)
_TAIL = re.compile(r"(?:方面|这方面|这一块|这块)?(?:呢|怎么样|如何|又如何|情况如何)?\s*[？?。.!！]*$")
# Chinese pronouns anywhere; English ones as whole words ("credit", "security" hold no "it").
_PRONOUN = re.compile(r"(它们|它|其|该|这些|这个|上述|\b(?:those|these|they|them|their|it|its|this|that)\b)", re.I)
# An English question whose subject or owner is a pronoun refers back, however many words it has.
_REFERRING = re.compile(
    r"\b(?:does|did|do|is|was|are|were|has|have|had|can|could|will|would|should)\s+(?:it|they|this|that)\b"
    r"|\b(?:its|their)\s+\w",
    re.I,
)
_ORDINALS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "last": -1,
    "最后": -1,
}
# An item reference: an ordinal with a classifier or at the end of the question ("第二个", "第三点
# 呢", "the third one", "And the fifth?"); not an ordinal of time or quantity ("第三季度", "the first
# half", "the first time").
_ZH_ITEM_NOUN = "方面|阶段|部分|层面|环节|问题|措施|对策|建议|路径|瓶颈|效应"
_ZH_ITEM = rf"(?:(?:个|条|项|点|种|类|大)(?:{_ZH_ITEM_NOUN})?|(?:{_ZH_ITEM_NOUN}))"
_EN_ITEM_NOUN = (
    "one|item|point|stage|problem|measure|path|step|bottleneck|aspect|factor|effect|reason|suggestion|challenge"
)
_EN_NOT_ITEM = "half|quarter|quarters|year|years|time|times|day|days|month|months|week|weeks|season|place|glance|sight"
_ITEM = re.compile(
    rf"(?:第\s*([一二两三四五六七八九十\d]+)\s*(?:{_ZH_ITEM}|(?=\s*(?:呢|[？?，,。]|$)))|(最后)\s*(?:一)?{_ZH_ITEM}|"
    r"\b(?:the|that|this|its|your)\s+(first|second|third|fourth|fifth|sixth|seventh|eighth|last)\b"
    rf"(?!\s+(?:{_EN_NOT_ITEM})\b)(?:\s+(?:{_EN_ITEM_NOUN})s?\b)?|"
    rf"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|last)\s+(?:{_EN_ITEM_NOUN})s?\b|"
    r"\b(?:item|point|number|no\.?)\s*(\d+))",
    re.I,
)


def as_turns(history: Sequence[Any] | None) -> tuple[Turn, ...]:
    """The history as Turns. Accepts Turns, Answers, (question, answer) pairs, {"question", "answer"}
    dicts and plain earlier questions (the JSON API's form); anything else raises TypeError."""
    out: list[Turn] = []
    for item in history or ():
        if isinstance(item, Turn):
            out.append(item)
        elif isinstance(item, Answer):
            out.append(Turn(item.question, item.answer, item.standalone_question))
        elif isinstance(item, str):
            out.append(Turn(item))
        elif isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
            out.append(Turn(item[0], item[1]))
        elif isinstance(item, dict) and isinstance(item.get("question"), str):
            out.append(Turn(item["question"], str(item.get("answer") or ""), item.get("standalone_question")))
        else:
            raise TypeError(
                f"history item {item!r:.80} is not a Turn, an Answer, a question or a (question, answer) pair"
            )
    return tuple(out)


def answer_items(answer: str) -> list[str]:
    """The items of an answer, in order: the items of the enumeration it quotes when it quotes
    one ("(1) 萌芽阶段…(2) 探索发展阶段…", "一是…二是…"), else its sentences that carry [n]
    citations; markers removed (the extractive answer's English lead-in is not an item)."""
    body = _without_lead_in(answer)
    enumerated = _enumerated_items(body)
    if enumerated:
        return enumerated
    items = [m.group(1).strip(" ；;，,") for m in re.finditer(r"(.+?)(?:\[\d{1,3}\])+[；;。.]?", body, re.S)]
    return [strip_citations(i).strip() for i in items if i.strip()] or [strip_citations(body)]


def _without_lead_in(answer: str) -> str:
    """The answer without the extractive answer's English lead-in (rag.answer.EN_LEAD)."""
    return re.sub(r"^From the papers \(quoted in their original language\):\s*", "", answer.strip())


def _enumerated_items(body: str) -> list[str]:
    """The items of the first enumeration numbered 1, 2, … (one style of marker) in the text,
    each running to the next item; [] when the text holds no such enumeration of two or more."""
    text = strip_citations(body)
    found = enumeration_items_in(text)
    for i, (_pos, style, n) in enumerate(found):
        if n != 1:
            continue
        run = [found[i]]
        for later in found[i + 1 :]:
            if later[1] == style and later[2] in (run[-1][2] + 1, -1):
                run.append(later)
            if run[-1][2] == -1:
                break
        if len(run) >= 2:
            ends = [p for p, _s, _n in run[1:]] + [len(text)]
            return [text[p:end].strip(" ；;，,") for (p, _s, _n), end in zip(run, ends, strict=True)]
    return []


def item_reference(question: str) -> int | None:
    """The item a follow-up points at: "第二个" -> 2, "the third one" -> 3, "最后一个" -> -1."""
    m = _ITEM.search(question)
    if not m:
        return None
    word = next(g for g in m.groups() if g)
    if word.isdigit():
        return int(word)
    if word.lower() in _ORDINALS:
        return _ORDINALS[word.lower()]
    return _chinese_number(word)


def _chinese_number(word: str) -> int | None:
    if word == "十":
        return 10
    if word.startswith("十"):
        return 10 + _ORDINALS.get(word[1:], 0)
    if len(word) == 1:
        return _ORDINALS.get(word)
    return None


def condense(
    question: str,
    history: Sequence[Turn],
    rewrite: Callable[[str, Sequence[Turn]], str | None] | None = None,
    weigh: Weigher | None = None,
    translate: Callable[[str], str] | None = None,
) -> str:
    """A standalone question for retrieval. With `rewrite` (a language model's condenser) its
    answer is used when it gives one; otherwise the rules of the module docstring, with `weigh`
    (term -> specificity, from the index) choosing the last question's topic and `translate`
    putting an English topic into the papers' terms when the last question was Chinese."""
    if not history:
        return question
    if rewrite is not None:
        rewritten = rewrite(question, history)
        if rewritten:
            return rewritten
    last = history[-1]
    base = last.standalone or last.question
    if base.endswith(f" {last.question}"):  # the last turn was itself glued to its topic: keep the topic only
        base = base[: -len(last.question) - 1]
    n = item_reference(question)
    item = earlier_item(history, n) if n is not None else None
    if item:
        rest = _LEAD.sub("", _ITEM.sub(" ", question).strip()).strip()
        own = [t for t, _w in weigh(rest) if t not in _ASKING_WORDS] if weigh else []
        if own and language_of(rest) != language_of(item):  # "which technologies …" about a Chinese item
            rest = translate(rest) if translate is not None else ""
        return f"{item} {rest}" if own and rest else item  # "第二个阶段有什么特点？": the item, and what is asked
    if n is not None:
        return f"{base} {question}"  # "那第二个呢？" after an answer with no list: not a topic to swap in
    if not is_follow_up(question, weigh):
        return question
    text = question.strip()
    topic = _LEAD.sub("", _TAIL.sub("", text)).strip()
    new_years, old_years = YEAR.findall(topic), YEAR.findall(base)
    if _LEAD.match(text) and new_years and old_years and len(topic) <= 8:
        return base.replace(old_years[0], new_years[0], 1)  # "那 2019 年呢？": the same question, another year
    leans = bool(_PRONOUN.search(topic) or _REFERRING.search(topic))
    if topic and not leans and (_LEAD.match(text) or text.rstrip("？? ").endswith("呢")):
        if not _short_topic(topic):
            return question  # "另外，综合试验区那篇论文提到…？": a question of its own after a follow-up word
        swapped = _swap_slot(base, _slot_text(text))  # "支付方面" for "物流方面"
        if swapped:
            return swapped
        if translate is not None and language_of(topic) != language_of(base):
            topic = translate(topic) or topic
        old = _topic_of(base, weigh)
        if _LEAD.match(text) and old and old in base:
            return base.replace(old, topic, 1)  # "那支付呢？": the same question about another topic
    return f"{base} {question}"  # "它的增长率是多少？": searched with the last question, not all of them


# Words that ask for more about an item without naming anything ("tell me more about the second one").
_ASKING_WORDS = frozenset(  # and the nouns of "有什么特点", "what are its features"
    "tell explain elaborate detail details detailed specifically feature features characterize characterizes "
    "characterise characterises characteristic characteristics "
    "具体 说说 讲讲 展开 内容 意思 特点 特征".split()
)

# A follow-up's topic replaces a term of the last question when it is a short phrase: at most this
# many Han characters, or English words.
TOPIC_MAX_HAN = 8
TOPIC_MAX_WORDS = 4


def _short_topic(topic: str) -> bool:
    """A topic phrase ("支付", "the import side"), not a question of its own."""
    if has_form(topic) or shape("which").search(topic) or shape("when").search(topic):
        return False
    if language_of(topic) == "zh":
        return len(HAN.findall(topic)) <= TOPIC_MAX_HAN
    return len(re.findall(r"[A-Za-z][\w'-]*", topic)) <= TOPIC_MAX_WORDS


def _slot_text(question: str) -> str:
    """The follow-up's phrase with its frame words kept ("那支付方面呢？" -> "支付方面",
    "And on the enforcement side?" -> "on the enforcement side")."""
    text = _LEAD.sub("", question.strip())
    return re.sub(r"(?:呢|怎么样|如何|又如何|情况如何)?\s*[？?。.!！]*$", "", text).strip()


def _swap_slot(base: str, phrase: str) -> str | None:
    """The last question with the follow-up's phrase put in the slot that shares its frame: the
    words around the new term that the last question also has ("物流方面" <- "支付方面",
    "政策效应" <- "创新效应", "on the legislative side" <- "on the enforcement side"); None when
    the phrase has no frame word in the last question."""
    if language_of(phrase) == "zh":
        from .lexical import word_spans

        ends: dict[int, int] = {}  # end -> start of each word of the last question, cut once when needed
        for cut in range(1, len(phrase) - 1):  # the longest shared ending of two or more characters first
            head, frame = phrase[:cut], phrase[cut:]
            at = base.find(frame)
            if not HAN.search(head) or at <= 0:
                continue
            ends = ends or {e: s for s, e in word_spans(base)}
            word = (ends[at], at) if at in ends else None
            if word is None or word[1] - word[0] < 2 or base[word[0] : word[1]] == head or has_form(base[word[0] : at]):
                continue
            return base[: word[0]] + head + base[word[1] :]
        return None
    words = phrase.split()
    lower = base.lower()
    before = 0
    while before < len(words) - 1 and re.search(rf"\b{re.escape(' '.join(words[: before + 1]).lower())}\b", lower):
        before += 1
    after = 0
    while after < len(words) - before - 1 and re.search(
        rf"\b{re.escape(' '.join(words[len(words) - after - 1 :]).lower())}\b", lower
    ):
        after += 1
    if not after:
        return None
    new = " ".join(words[before : len(words) - after])
    pattern = r"\b" + "".join(rf"{re.escape(w)}\s+" for w in words[:before])
    pattern += r"([\w'-]+(?:\s+[\w'-]+){0,2}?)" + "".join(rf"\s+{re.escape(w)}" for w in words[len(words) - after :])
    m = re.search(pattern + r"\b", base, re.I)
    if not m or m.group(1).lower() == new.lower():
        return None
    return base[: m.start(1)] + new + base[m.end(1) :]


FORMS = ("list", "how_many", "quantity", "definition", "consequence", "cause", "multi_paper", "which_paper")


def has_form(question: str) -> bool:
    """The question says what kind of answer it wants (a list, a figure, a definition, …)."""
    return any(shape(name).search(question) for name in FORMS)


def earlier_item(history: Sequence[Turn], n: int, depth: int = 3) -> str | None:
    """Item n of the most recent answer (within `depth` turns) that quotes an enumeration with
    that many items ("(1) …(2) …"); else of the most recent answer with that many cited
    sentences. An answer that told one item in full is no list of its own."""
    recent = [turn for turn in reversed(history[-depth:]) if turn.answer]
    for split in (_enumerated_items, answer_items):
        for turn in recent:
            items = split(_without_lead_in(turn.answer))
            if len(items) >= 2 and (n == -1 or 1 <= n <= len(items)):
                return items[n - 1] if n > 0 else items[-1]
    return None


def is_follow_up(question: str, weigh: Weigher | None = None) -> bool:
    """The question leans on the previous turn: it opens with a follow-up word ("那…", "what
    about…"), is a short "…呢？", asks without a topic of its own ("为什么？"), has an English
    pronoun as its subject or owner ("did it…", "its…"), or has a pronoun and at most two terms
    of its own."""
    text = question.strip()
    if _LEAD.match(text) and _LEAD.sub("", text):
        return True
    own = [t for t, _w in weigh(text)] if weigh else re.findall(r"\w+", text)
    if text.rstrip("？? ").endswith("呢") and len(HAN.findall(text)) <= 8:
        return True
    asks = text.endswith(("？", "?")) or has_form(text)
    if weigh and not own and asks and len(re.findall(r"\w", text)) >= 2:
        return True  # "为什么？", "具体是多少？": a question with no topic of its own
    if weigh and len(own) <= 1 and shape("which").search(text) and len(re.findall(r"\w", text)) <= 10:
        return True  # "哪个省份最多？": which one, of what the last turn was about
    if _REFERRING.search(text):
        return True  # "What share did it account for?", "What are its causes?": about the last turn's subject
    return bool(_PRONOUN.search(text)) and len(own) <= 2


def _topic_of(question: str, weigh: Weigher | None) -> str | None:
    """The most specific term of a question (highest weight), as written in it."""
    if weigh is None:
        return None
    terms = [(t, w) for t, w in weigh(question) if t in question.lower() or t in question]
    if not terms:
        return None
    term = max(terms, key=lambda tw: (tw[1], len(tw[0])))[0]
    if language_of(question) == "en":
        m = re.search(re.escape(term), question, re.I)
        return question[m.start() : m.end()] if m else None
    return term


def question_pieces(question: str) -> list[str]:
    """The questions joined in one, split where the word lists' `sub_question_joints` say
    ("哪一年开始设立的？广西有哪些地方获批？" -> two); [question] when it is one."""
    return [p.strip() for p in shape("sub_question_joints").split(question) if p and p.strip()] or [question]


def question_parts(question: str, limit: int, min_letters: int) -> list[tuple[str, str]]:
    """The pieces of a question (`question_pieces`) as (text to search, its own words): a part
    that leans on the one before ("…是多少？这会带来什么风险？", a follow-up shape or too short
    to stand alone: fewer than `min_letters` letters) is searched together with it. One part (the
    question itself, text and "") when it does not split into 2 to `limit` parts."""
    pieces = question_pieces(question)
    if not 2 <= len(pieces) <= limit:
        return [(question, "")]
    out: list[tuple[str, str]] = []
    for i, piece in enumerate(pieces):
        short = len(WORD_CHAR.findall(piece)) < min_letters
        if i > 0 and (short or shape("follow_up").search(piece)):
            out.append((f"{pieces[i - 1]} {piece}", piece))
        elif short:
            return [(question, "")]
        else:
            out.append((piece, piece))
    return out
