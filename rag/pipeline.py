"""The order of the stages: build_index(settings), load(settings) -> Assistant(.ask, .stream).

question -> clean -> condense (history) -> embed -> legs + fusion -> hits
         -> evidence sentences -> abstention decision -> answerer -> verification -> Answer
(a question no passage answers whole, but of several parts: each part from embed to decision,
the parts the papers answer merged into one context)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import store
from .abstain import Abstainer
from .answer import ANSWERERS, Context, Draft, Extractive, abstention
from .cite import citation_from_hit
from .config import Settings
from .converse import as_turns, condense, earlier_item, has_form, item_reference, question_parts
from .errors import RagError
from .evidence import SentenceScorer
from .indexing import BuildReport, build_index, expected_signature
from .outline import OutlineLister
from .retrieve import Retriever
from .scope import PaperScope
from .text import language_of
from .tuning import Tuning
from .types import Answer, Hit, Paper
from .userinput import clean_question, prepare_question

if TYPE_CHECKING:
    from .answer import Answerer
    from .legs import Query

logger = logging.getLogger(__name__)

__all__ = ["Assistant", "BuildReport", "build_index", "load", "clean_question"]


class Assistant:
    """Answers questions over one loaded index. Safe to share between threads."""

    def __init__(self, settings: Settings, data: store.IndexData, tuning: Tuning | None = None) -> None:
        self.settings = settings
        self.data = data
        self.tuning = tuning or Tuning.load(settings.tuning)
        self.retriever = Retriever(data, settings, self.tuning)
        self.scorer = SentenceScorer(data, self.tuning)
        self._answerers: dict[str, Answerer] = {}
        self._lock = threading.Lock()

    @property
    def papers(self) -> list[Paper]:
        return sorted(self.data.papers.values(), key=lambda p: p.doc_id)

    def chunk_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.data.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        return counts

    @cached_property
    def abstainer(self) -> Abstainer:
        return Abstainer(self.data, self.tuning, self.retriever.bridge, self.scorer)

    # ------------------------------------------------------------ answerers

    def use(self, answerer: Answerer) -> Answerer:
        """Make an answerer instance the one used for its mode name (e.g. a GeneratedAnswerer
        with its own LLM settings or chat model)."""
        with self._lock:
            self._answerers[answerer.name] = answerer
        return answerer

    def answerer(self, mode: str | Answerer | None = None) -> Answerer:
        """The answerer for a mode: "extractive", "generated" (RAG_LLM decides the model), an
        Answerer instance, or None for the default (generated when RAG_LLM is set)."""
        if mode is not None and not isinstance(mode, str):
            return mode
        name = mode or self.default_mode
        with self._lock:
            if name not in self._answerers:
                self._answerers[name] = self._make_answerer(name)
            return self._answerers[name]

    @cached_property
    def default_mode(self) -> str:
        from .generate import LLMSettings

        return "extractive" if LLMSettings.load().backend == "extractive" else "generated"

    def _make_answerer(self, name: str) -> Answerer:
        if name == "extractive":
            return Extractive(self.tuning, OutlineLister(self.data, self.scorer, self.tuning), self.scorer)
        if name == "generated":
            from .generate import GeneratedAnswerer

            return GeneratedAnswerer()
        if name in ANSWERERS:
            return ANSWERERS[name]()
        raise RagError(f"Unknown answer mode {name!r}; use one of: extractive, generated, {', '.join(ANSWERERS)}.")

    # ------------------------------------------------------------ asking

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        *,
        use_dense: bool | None = None,
        use_bm25: bool | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> list[Hit]:
        """The k best chunks for a question (no answer): rank order, references excluded."""
        query = self._query(clean_question(question, self.settings.max_question_chars), use_dense, use_bm25)
        return self.retriever.search(query, k or self.settings.k, doc_ids=frozenset(doc_ids) if doc_ids else None)

    def _query(self, text: str, use_dense: bool | None, use_bm25: bool | None) -> Query:
        return self.retriever.embed(
            text,
            use_dense=self.settings.use_dense if use_dense is None else use_dense,
            use_bm25=self.settings.use_bm25 if use_bm25 is None else use_bm25,
        )

    def ask(self, question: str, **options: Any) -> Answer:
        """One cited answer (or an abstention). Options as for `stream`."""
        final: Answer | None = None
        for piece in self.stream(question, **options):
            if isinstance(piece, Answer):
                final = piece
        if final is None:  # every answerer ends with a Draft, so stream ends with an Answer
            raise RagError("the answer stream ended without an answer")
        return final

    def stream(
        self,
        question: str,
        *,
        mode: str | Answerer | None = None,
        history: Sequence[Any] | None = None,
        k: int | None = None,
        doc_ids: Sequence[str] | None = None,
        use_dense: bool | None = None,
        use_bm25: bool | None = None,
    ) -> Iterator[str | Answer]:
        """Yield pieces of the draft as the answerer writes them (generated mode), then the
        final, verified Answer, whose text is authoritative.

        mode: "extractive" | "generated" | an Answerer; default from RAG_LLM.
        history: earlier turns, oldest first (rag.Turn or rag.Answer; see rag.converse.as_turns).
        k: passages to retrieve (1..100, default settings.k); doc_ids: restrict to these papers.
        Raises BadQuestionError for empty input, ModelNotAvailableError when a model is missing."""
        t0 = time.perf_counter()
        if not self.data.chunks:
            raise RagError(
                f"The index in {self.settings.index_dir}/ holds no passages (no readable papers in "
                f"{self.settings.corpus_dir}/). Put .txt, .md or .pdf papers there and run `rag index`."
            )
        answerer = self.answerer(mode)
        context = self._context(question, answerer, history, k, doc_ids, use_dense, use_bm25)
        t1 = time.perf_counter()
        draft: Draft | None = None
        for piece in answerer.stream(context):
            if isinstance(piece, Draft):
                draft = piece
            else:
                yield piece
        if draft is None:
            raise RagError(f"the {answerer.name} answerer produced no draft")
        yield self._finish(context, answerer, draft, {"retrieve": (t1 - t0) * 1000, "start": t0})

    def _context(
        self,
        question: str,
        answerer: Answerer,
        history: Sequence[Any] | None,
        k: int | None,
        doc_ids: Sequence[str] | None,
        use_dense: bool | None,
        use_bm25: bool | None,
    ) -> Context:
        asked, input_notes = prepare_question(question, self.settings.max_question_chars)
        turns = as_turns(history)
        standalone = condense(asked, turns, answerer.condense, self.scorer.term_weights, self._in_index_terms)
        n = item_reference(asked) if turns else None
        item = earlier_item(turns, n) if n is not None else None  # "那第二个呢？": told in full
        searched, said = standalone, asked
        named = None if doc_ids else self._scope.resolve(standalone)
        if named is not None:  # "According to Guo Ran's paper, …", "the rule-of-law paper": that paper only
            doc_ids = sorted(named.doc_ids)
            searched = named.text
            said = getattr(self._scope.resolve(asked), "text", asked)
            titles = ", ".join(self.data.papers[d].title for d in doc_ids)
            input_notes = (
                *input_notes,
                f"searched only {titles}: the question names it (“{'”, “'.join(named.named)}”)",
            )
        whole = self._search(
            searched,
            asked if standalone != asked and has_form(asked) else "",
            said,
            k,
            doc_ids,
            use_dense,
            use_bm25,
            item if item and standalone == item else "",
        )
        found = [whole]
        parts = (
            question_parts(searched, self.tuning.max_question_parts, self.tuning.min_part_letters)
            if whole.decision.abstain
            else []
        )
        if len(parts) > 1:
            # No passage answers "哪一年开始设立的？广西有哪些地方获批？" as a whole: each part is
            # searched and answered on its own, and the parts the papers answer are shown.
            by_part = [self._search(text, form, text, k, doc_ids, use_dense, use_bm25) for text, form in parts]
            if any(not c.decision.abstain for c in by_part):
                found = by_part
        return self._merge(asked, standalone, turns, input_notes, found)

    def _search(
        self,
        text: str,
        form: str,
        said: str,
        k: int | None,
        doc_ids: Sequence[str] | None,
        use_dense: bool | None,
        use_bm25: bool | None,
        item: str = "",
    ) -> Context:
        """Retrieval, evidence, abstention decision and quotes for one searched text (`form`:
        where its answer shape is read, "" = the text; `said`: the words the asker typed for it,
        whose names and figures the abstention decision checks; `item`: an earlier answer's item
        the question asks about, quoted with the sentences that follow it)."""
        query = self._query(text, use_dense, use_bm25)
        if form:  # "它的增长率是多少？" asks how much, whatever came before
            query = replace(query, form_text=form)
        k = k or self.settings.k
        pool = self.retriever.search(
            query, max(k, self.tuning.evidence_pool), doc_ids=frozenset(doc_ids) if doc_ids else None
        )
        hits = pool[:k]
        evidence = self.scorer.candidates(query, pool)  # sentences that may be quoted
        decision = self.abstainer.decide(query, hits, [ev for ev in evidence if ev.hit.rank <= k], said, evidence)
        untrusted = self.scorer.instructions(pool)
        passages = tuple(
            replace(
                citation_from_hit(h.rank, h, self.data.papers.get(h.chunk.doc_id)),
                untrusted=untrusted.get(h.chunk.key, ()),
            )
            for h in hits
        )
        flagged = tuple(
            f"ignored instruction-like text in {key}: “{sentence[:120]}”"
            for key, found in untrusted.items()
            for sentence in found
        )
        quotes: tuple = ()
        if not decision.abstain and hits:
            body = self._extractive.item_body(item, evidence) if item else []
            quotes = tuple(body or self._extractive.choose(query, hits, evidence))
        return Context(
            said, text, query, tuple(hits), tuple(evidence), decision, passages, self.data.papers, (), flagged, quotes
        )

    def _merge(
        self, asked: str, standalone: str, turns: tuple, input_notes: Sequence[str], found: list[Context]
    ) -> Context:
        """One context from the searches of a question's parts: the hits of every part (ranked
        again, part by part, a chunk once), each answerable part's quotes in the question's order,
        and an abstention only when every part abstains (the notes name a part that does)."""
        flagged = tuple(dict.fromkeys(note for c in found for note in c.input_notes))
        if len(found) == 1:
            (c,) = found
            notes = (*input_notes, *flagged)
            return replace(c, question=asked, standalone=standalone, history=turns, input_notes=notes)
        answered = [c for c in found if not c.decision.abstain]
        lead = min(answered or found, key=lambda c: c.decision.p_unanswerable)
        hits: dict[str, Hit] = {}
        for c in (*answered, *(c for c in found if c.decision.abstain)):
            for h in c.hits:
                hits.setdefault(h.chunk.key, replace(h, rank=len(hits) + 1))
        passages = {p.key: replace(p, n=hits[p.key].rank) for c in found for p in c.passages}
        quotes: list = []
        for c in answered:
            for ev in c.quotes:
                ev = replace(ev, hit=hits[ev.hit.chunk.key]) if ev.hit.chunk.key in hits else ev
                if not any(ev.hit.chunk.key == q.hit.chunk.key and ev.start == q.start for q in quotes):
                    quotes.append(ev)
        unanswered = tuple(
            f"the papers do not answer this part: “{c.query.form}”" for c in found if c.decision.abstain and answered
        )
        evidence = sorted((ev for c in found for ev in c.evidence), key=lambda ev: -ev.score)
        return Context(
            asked,
            standalone,
            lead.query,
            tuple(hits.values()),
            tuple(evidence),
            lead.decision,
            tuple(sorted(passages.values(), key=lambda p: p.n)),
            self.data.papers,
            turns,
            (*input_notes, *flagged, *unanswered),
            tuple(quotes),
        )

    @cached_property
    def _scope(self) -> PaperScope:
        return PaperScope(self.data.papers, self.data.headings, self._description_terms)

    def _description_terms(self, text: str) -> list[tuple[str, float]]:
        """A Chinese description of a paper ("综合试验区") as index terms with their idf. An
        English one gives none: bridged to Chinese its words fit every paper of one field alike
        (on dev, "the rule-of-law paper" fitted a paper on the digital economy best)."""
        from .lexical import tokenize

        if language_of(text) != "zh":
            return []
        return [(t, self.scorer.idf.get(t, 0.0)) for t in tokenize(text) if len(t) >= 2]

    @property
    def _extractive(self) -> Extractive:
        return self.answerer("extractive")  # type: ignore[return-value]

    def _in_index_terms(self, text: str) -> str:
        """An English phrase as the papers' Chinese terms (the USE bridge), for a follow-up that
        switches topic across languages: "payments" -> "支付"."""
        from .lexical import english_terms

        return "".join(self.retriever.bridged_terms(english_terms(text), per_word=1))

    def _verify(self, context: Context, draft: Draft, *, drop_unsupported: bool = False) -> Any:
        """rag.verify of the draft against the citations its [n] refer to."""
        from .verify import verify

        return verify(
            draft.text,
            {c.n: c for c in draft.citations},
            question_lang=context.lang,
            bridge=self.retriever.bridge,
            tuning=self.tuning,
            drop_unsupported=drop_unsupported,
            ground=draft.ground,
            reattribute=bool(draft.ground),  # a writer's citation may point at the neighbouring quote
        )

    def _finish(self, context: Context, answerer: Answerer, draft: Draft, timings: dict[str, float]) -> Answer:
        """Verify the draft once; an unusable generated draft gives way to the extractive one."""
        t = time.perf_counter()
        notes = [*context.input_notes, *draft.notes]
        mode = getattr(answerer, "label", answerer.name)
        checked = None
        if draft.failure is not None:
            notes = [f"{draft.failure}; showing the extractive answer", *context.input_notes]
            draft, mode = self._extractive.draft(context), "extractive"
            notes += list(draft.notes)
        if not draft.abstained:
            checked = self._verify(context, draft, drop_unsupported=getattr(answerer, "drop_unsupported", False))
            if checked.abstained:
                draft = abstention(context, "the model found no answer in the passages")
                notes, checked = list(draft.notes), None
            elif checked.problem and not draft.quoted:
                notes = [f"generated answer unusable ({checked.problem}); showing the extractive answer"]
                logger.info("%s: %r", notes[0], checked.text[:200])
                draft, mode = self._extractive.draft(context), "extractive"
                notes += list(draft.notes)
                checked = None if draft.abstained else self._verify(context, draft)
        untrusted = {p.key: p.untrusted for p in context.passages if p.untrusted}
        text, sentences = draft.text, ()
        citations = tuple(replace(c, untrusted=untrusted.get(c.key, c.untrusted)) for c in draft.citations)
        if checked is not None:
            sentences = checked.sentences
            if not draft.quoted:  # a generated draft is shown as verified (renumbered, marked)
                text, citations = checked.text, checked.citations
                notes += list(checked.notes)
        end = time.perf_counter()
        timing = {"retrieve": timings["retrieve"], **draft.timings_ms}
        timing["answer"] = (end - timings["start"]) * 1000 - timings["retrieve"]
        timing["verify"] = (end - t) * 1000
        timing["total"] = (end - timings["start"]) * 1000
        d = context.decision
        notes += [
            f"evidence={d.best_sentence:.3f}",
            f"similarity={d.similarity:.3f}",
            f"p_unanswerable={d.p_unanswerable:.3f}",
        ]
        return Answer(
            question=context.question,
            answer=text,
            abstained=draft.abstained,
            language=context.lang,
            citations=citations,
            passages=context.passages,
            timings_ms=timing,
            mode=mode,
            standalone_question=context.standalone,
            notes=tuple(dict.fromkeys(notes)),
            sentences=sentences,
            abstention={**d.features, "p_unanswerable": d.p_unanswerable},
        )

    # ------------------------------------------------------------ start-up

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
        self.ask("跨境电商")
        self.ask("What are the problems of cross-border logistics?")


def load(settings: Settings | None = None, *, tuning: Tuning | None = None, **overrides: object) -> Assistant:
    """Open the index named by settings (built by `rag index`) and return an Assistant; `tuning`
    replaces the shipped weights and thresholds (default: Tuning.load(settings.tuning)).
    Raises IndexNotFoundError (with the command that builds it) or IndexMismatchError."""
    settings = settings or Settings.load(**overrides)
    data = store.open_store(settings).load(expected_signature(settings))
    assistant = Assistant(settings, data, tuning)
    assistant.prefetch()
    return assistant


def indexed_papers(settings: Settings | None = None) -> list[Paper]:
    """The papers of the index with their metadata (for exports and listings): reads the index's
    paper table only, no models. Raises IndexNotFoundError when there is no index."""
    settings = settings or Settings.load()
    return store.open_store(settings).papers()


def open_or_build(settings: Settings, *, progress: bool | None = None) -> Assistant:
    """Load the index, building it first when it is missing (the chat, `rag demo`)."""
    from .errors import IndexNotFoundError

    try:
        return load(settings)
    except IndexNotFoundError:
        logger.warning("no index in %s/: building it from %s/", settings.index_dir, settings.corpus_dir)
        build_index(settings, progress=progress)
        return load(settings)
