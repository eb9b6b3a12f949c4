"""The order of the stages: build_index(settings), load(settings) -> Assistant(.ask)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from functools import cached_property

from . import store
from .answer import ABSTAIN, Extractive, compose
from .cite import citation_from_hit
from .config import Settings
from .indexing import BuildReport, build_index, expected_signature
from .retrieve import Query, Retriever
from .types import Answer, Hit, Paper
from .userinput import clean_question

logger = logging.getLogger(__name__)

__all__ = ["Assistant", "BuildReport", "build_index", "load", "clean_question", "condense"]


_FOLLOW_UP = re.compile(
    r"^(那|那么|那个|还有|另外|此外|它|其|这|该|上述|第[一二三四五六七八九十\d]+[点个条项])|"
    r"^(what about|how about|and |what else|why|how so|tell me more|more on|and what)|"
    r"(呢[？?]?$|\bit\b|\bthey\b|\bthat\b|\bthose\b|\bthis\b)",
    re.I,
)


def condense(question: str, history: Sequence[str]) -> str:
    """A standalone question for retrieval from a follow-up ("那第二点呢？", "what about
    payments?"): without a language model, the previous standalone question is kept as
    context when the new one leans on it (opens with or contains a back-reference); a
    question that stands on its own ("红烧肉怎么做？") is searched as it is."""
    if not history:
        return question
    if _FOLLOW_UP.search(question):
        return f"{history[-1]} {question}"
    return question


class Assistant:
    """Answers questions over one loaded index. Safe to share between threads."""

    def __init__(self, settings: Settings, data: store.IndexData) -> None:
        self.settings = settings
        self.data = data
        self.retriever = Retriever(data, settings)
        self.extractive = Extractive(data)
        self._lock = threading.Lock()

    @property
    def papers(self) -> list[Paper]:
        return sorted(self.data.papers.values(), key=lambda p: p.doc_id)

    def chunk_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.data.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        return counts

    def prefetch(self) -> threading.Thread:
        """Load the slow parts (USE weights ~1.8 s, jieba dictionaries ~2 s) in a background
        thread while the caller goes on (imports, parsing): a cold `rag ask` overlaps them."""

        def work() -> None:
            try:
                from .lexical import named_terms, tokenize

                if self.retriever.bridge is not None:
                    self.retriever.bridge.encode_queries(["跨境电商"])
                tokenize("跨境电商")
                named_terms("跨境电商")
            except Exception:  # noqa: BLE001 - the real call will raise the readable error
                logger.debug("prefetch failed", exc_info=True)

        thread = threading.Thread(target=work, name="rag-prefetch", daemon=True)
        thread.start()
        return thread

    def warm_up(self) -> None:
        """Load every model and build every lookup table now (the chat calls this at start),
        so the first user question is as fast as the rest."""
        self.retriever.warm_up()
        self.ask("跨境电商")  # builds the answerer's sentence, idf and outline tables too
        self.ask("What are the problems of cross-border logistics?")

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        *,
        use_dense: bool | None = None,
        use_bm25: bool | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> list[Hit]:
        query = self._query(clean_question(question, self.settings.max_question_chars), use_dense, use_bm25)
        return self.retriever.search(query, k or self.settings.k, doc_ids=frozenset(doc_ids) if doc_ids else None)

    def _query(self, text: str, use_dense: bool | None, use_bm25: bool | None) -> Query:
        """The question embedded for the legs that are on (settings unless overridden)."""
        return self.retriever.embed(
            text,
            use_dense=self.settings.use_dense if use_dense is None else use_dense,
            use_bm25=self.settings.use_bm25 if use_bm25 is None else use_bm25,
        )

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        use_dense: bool | None = None,
        use_bm25: bool | None = None,
        doc_ids: Sequence[str] | None = None,
        history: Sequence[str] | None = None,
    ) -> Answer:
        """Retrieve, then answer extractively with [n] citations, or abstain. `history` is the
        list of earlier standalone questions of the conversation (Answer.standalone_question)."""
        return self.chain.invoke(
            {
                "question": question,
                "k": k,
                "use_dense": use_dense,
                "use_bm25": use_bm25,
                "doc_ids": doc_ids,
                "history": list(history or ()),
            }
        )

    def _check(self, text: str, citations: tuple, lang: str) -> tuple:
        """Sentence-by-sentence verification, the same test generated answers get."""
        from .verify import verify

        return verify(text, {c.n: c for c in citations}, question_lang=lang, bridge=self.retriever.bridge).sentences

    @cached_property
    def chain(self):  # noqa: ANN201 - a LangChain Runnable, imported lazily
        from .chain import answer_chain

        return answer_chain(self)

    def _answer(self, request: dict) -> Answer:
        """The body of the chain: one question in, one Answer out."""
        t0 = time.perf_counter()
        asked = clean_question(request["question"], self.settings.max_question_chars)
        text = condense(asked, request.get("history") or ())
        k = request.get("k") or self.settings.k
        query = self._query(text, request.get("use_dense"), request.get("use_bm25"))
        doc_ids = request.get("doc_ids")
        hits = self.retriever.search(query, k, doc_ids=frozenset(doc_ids) if doc_ids else None)
        t1 = time.perf_counter()
        evidence = self.extractive.candidates(query, hits)
        decision = self.extractive.decide(query, hits, evidence, self.retriever.bridge)
        lang = query.lang
        passages = tuple(citation_from_hit(h.rank, h, self.data.papers.get(h.chunk.doc_id)) for h in hits)
        if decision.abstain or not hits:
            answer_text, citations, abstained = ABSTAIN[lang], (), True
        else:
            chosen = self.extractive.outline_list(query, hits, evidence[0].score if evidence else 0.0)
            chosen = chosen or self.extractive.select(query, evidence)
            answer_text, citations = compose(chosen, lang, self.data.papers)
            abstained = False
        checks = self._check(answer_text, citations, lang) if not abstained else ()
        t2 = time.perf_counter()
        return Answer(
            question=asked,
            answer=answer_text,
            abstained=abstained,
            language=lang,
            citations=citations,
            passages=passages,
            timings_ms={"retrieve": (t1 - t0) * 1000, "answer": (t2 - t1) * 1000, "total": (t2 - t0) * 1000},
            standalone_question=text,
            sentences=checks,
            notes=(
                f"evidence={decision.best_sentence:.3f}",
                f"similarity={decision.similarity:.3f}",
                *((f"abstained: {decision.reason}",) if decision.reason else ()),
            ),
        )


def load(settings: Settings | None = None, **overrides: object) -> Assistant:
    """Open the index named by settings (built by `rag index`) and return an Assistant."""
    settings = settings or Settings.load(**overrides)
    data = store.load_index(settings.index_dir, expected_signature(settings), settings.corpus_dir)
    assistant = Assistant(settings, data)
    assistant.prefetch()
    return assistant
