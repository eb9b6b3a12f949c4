"""Generated answers through LangChain: a local GGUF model (llama.cpp) or any OpenAI-compatible
chat endpoint, with the same retrieval, abstention rule and citations as the extractive answer.

The chain is `prompt | chat model | parser`; its draft is then checked sentence by sentence
(rag.verify) and replaced by the extractive answer when it is unusable. Chosen by RAG_LLM:
"extractive" (default, no model), "openai" or "llamacpp".
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import prompts
from .answer import ABSTAIN
from .cite import strip_source_refs
from .config import PROJECT_ROOT, coerce
from .errors import ModelNotAvailableError, RagError
from .types import Answer, Citation
from .verify import SentenceCheck, Verified, verify

if TYPE_CHECKING:
    from .pipeline import Assistant

logger = logging.getLogger(__name__)

__all__ = ["BACKENDS", "LLMSettings", "generate_answer", "make_chat_model", "stream_answer", "verify_answer"]

BACKENDS = ("extractive", "openai", "llamacpp")
DEFAULT_GGUF = PROJECT_ROOT / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
History = Sequence["str | tuple[str, str]"]


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """The language-model settings: defaults < RAG_LLM* environment < keyword arguments."""

    backend: str = "extractive"  # RAG_LLM
    base_url: str | None = None  # RAG_LLM_BASE_URL, e.g. http://localhost:11434/v1 (Ollama)
    model: str | None = None  # RAG_LLM_MODEL, the served model's name
    api_key: str = "not-needed"  # RAG_LLM_API_KEY; local servers ignore it
    timeout: float = 120.0  # RAG_LLM_TIMEOUT, seconds per request
    model_path: Path = DEFAULT_GGUF  # RAG_LLM_MODEL_PATH, the GGUF file for llamacpp
    max_tokens: int = 400  # RAG_LLM_MAX_TOKENS
    n_ctx: int = 4096  # RAG_LLM_N_CTX: five passages and the prompt take ~2,000 tokens
    drop_unsupported: bool = False  # RAG_LLM_DROP_UNSUPPORTED: drop, rather than mark, unsupported sentences

    @classmethod
    def load(cls, **overrides: Any) -> LLMSettings:
        env = {"backend": "RAG_LLM"} | {f.name: f"RAG_LLM_{f.name.upper()}" for f in fields(cls) if f.name != "backend"}
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = overrides.get(f.name)
            if raw is None:
                raw = os.environ.get(env[f.name]) or None
            if raw is not None:
                values[f.name] = coerce(env[f.name], raw, f.default)
        settings = cls(**values)
        if settings.backend not in BACKENDS:
            raise RagError(f"RAG_LLM={settings.backend!r} is unknown; use one of {', '.join(BACKENDS)}.")
        return settings


def make_chat_model(llm: LLMSettings) -> Any:
    """The LangChain chat model for the backend; raises ModelNotAvailableError with the fix."""
    if llm.backend == "openai":
        if not llm.model:
            raise ModelNotAvailableError(
                "RAG_LLM=openai needs the served model's name: set RAG_LLM_MODEL (and RAG_LLM_BASE_URL, "
                "e.g. http://localhost:11434/v1 for Ollama), or use RAG_LLM=extractive."
            )
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=llm.model,
            base_url=llm.base_url,
            api_key=llm.api_key,
            timeout=llm.timeout,
            max_retries=1,
            temperature=0.0,
            max_tokens=llm.max_tokens,
            use_responses_api=False,  # OpenAI-compatible servers speak chat completions only
        )
    if llm.backend == "llamacpp":
        return _llamacpp(llm)
    raise RagError(f"RAG_LLM={llm.backend!r} has no chat model; use openai or llamacpp.")


def _llamacpp(llm: LLMSettings) -> Any:
    path = Path(llm.model_path)
    if not path.is_file():
        raise ModelNotAvailableError(
            f"No GGUF model at {path}. Provision it with `make llm` (scripts/provision_llm.sh), or set "
            "RAG_LLM_MODEL_PATH to a GGUF file, or use RAG_LLM=extractive."
        )
    try:
        import llama_cpp  # noqa: F401 - ChatLlamaCpp imports it too; checked here for the message
    except ImportError as exc:
        raise ModelNotAvailableError(
            f"RAG_LLM=llamacpp needs llama-cpp-python ({exc}). Install it with `make llm` "
            "(scripts/provision_llm.sh builds llama-cpp-python==0.3.36 for this CPU)."
        ) from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # langchain-community's sunset notice
        from langchain_community.chat_models import ChatLlamaCpp
    try:
        return ChatLlamaCpp(
            model_path=str(path),
            n_ctx=llm.n_ctx,
            n_batch=256,
            n_threads=max(1, os.cpu_count() or 1),
            max_tokens=llm.max_tokens,
            temperature=0.0,
            verbose=False,
            streaming=True,
        )
    except Exception as exc:  # llama.cpp reports a bad file as ValueError/RuntimeError
        raise ModelNotAvailableError(
            f"llama.cpp cannot load {path} ({exc}). Re-run `make llm` to rebuild it and check its sha256."
        ) from exc


@contextlib.contextmanager
def _model_errors(llm: LLMSettings, model: Any) -> Iterator[None]:
    """Failures of the model call as ModelNotAvailableError naming the endpoint and the fix."""
    try:
        yield
    except RagError:
        raise
    except Exception as exc:
        where = _where(llm, model)
        name = type(exc).__name__
        # By class name along the MRO: openai's and langchain-openai's wrappers, without importing them.
        lineage = {k.__name__ for k in type(exc).__mro__}
        if lineage & {"APIConnectionError", "ModelConnectionError", "ConnectError", "TimeoutException"}:
            raise ModelNotAvailableError(
                f"Cannot reach the language model at {where} ({name}: {exc}). Start the server or set "
                "RAG_LLM_BASE_URL / RAG_LLM_TIMEOUT, or use RAG_LLM=extractive."
            ) from exc
        if hasattr(exc, "status_code"):
            raise ModelNotAvailableError(
                f"The language model at {where} refused the request (HTTP {exc.status_code}: {exc}). "
                "Check RAG_LLM_MODEL and RAG_LLM_API_KEY, or use RAG_LLM=extractive."
            ) from exc
        if llm.backend == "llamacpp" and isinstance(exc, (RuntimeError, ValueError, OSError)):
            raise ModelNotAvailableError(f"llama.cpp failed on {where} ({exc}). Re-run `make llm`.") from exc
        raise


def _where(llm: LLMSettings, model: Any) -> str:
    if llm.backend == "llamacpp":
        return str(llm.model_path)
    base = getattr(model, "openai_api_base", None) or llm.base_url or "https://api.openai.com/v1"
    return f"{base} (model {getattr(model, 'model_name', llm.model)!r})"


# ---------------------------------------------------------------- the chains


def _answer_chain(model: Any, lang: str) -> Any:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([("system", prompts.SYSTEM[lang]), ("human", prompts.HUMAN[lang])])
    return prompt | model | StrOutputParser()


def _condense_chain(model: Any, lang: str) -> Any:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages(
        [("system", prompts.CONDENSE_SYSTEM[lang]), ("human", prompts.CONDENSE_HUMAN[lang])]
    )
    return prompt | model | StrOutputParser()


def passage_block(passages: Sequence[Citation], lang: str) -> str:
    """The numbered passages as the model sees them; the papers' own reference markers ("[4]")
    are removed so they cannot be taken for, or copied as, the answer's citations."""
    out = []
    for p in passages:
        where = prompts.WHERE[lang].format(section=p.section, page=p.page) if p.section and p.page else ""
        if p.section and not p.page:
            where = f"，{p.section}" if lang == "zh" else f", {p.section}"
        text = strip_source_refs(p.text).strip()
        out.append(prompts.PASSAGE[lang].format(n=p.n, title=p.title, where=where, text=text))
    return "\n\n".join(out)


def history_block(history: History, lang: str) -> str:
    turns = []
    for turn in history:
        if isinstance(turn, str):
            turns.append(prompts.TURN_QUESTION_ONLY[lang].format(question=turn))
        else:
            question, answer = turn
            short = re.sub(r"\[\d{1,3}\]", "", answer or "").strip()[:300]
            turns.append(prompts.TURN[lang].format(question=question, answer=short))
    return "\n".join(turns)


def condense_with_model(model: Any, llm: LLMSettings, question: str, history: History, lang: str) -> str:
    """The follow-up rewritten by the model as a standalone question (the question itself when
    the model returns nothing usable)."""
    with _model_errors(llm, model):
        raw = _condense_chain(model, lang).invoke({"history": history_block(history, lang), "question": question})
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    text = re.sub(r"^(独立问题|改写后的问题|standalone question)\s*[:：]\s*", "", lines[0], flags=re.I) if lines else ""
    text = text.strip("\"'“”「」 ")
    return text if re.search(r"\w", text) and len(text) <= 500 else question


# ---------------------------------------------------------------- answering


@dataclass
class _Turn:
    """What is known before generation: the retrieval (via the extractive answer) and inputs."""

    base: Answer  # the extractive answer for the standalone question: passages, abstention, fallback
    standalone: str
    asked: str
    mode: str
    timings: dict[str, float]


def _prepare(
    assistant: Assistant,
    question: str,
    model: Any,
    llm: LLMSettings,
    k: int | None,
    doc_ids: Sequence[str] | None,
    history: History | None,
) -> _Turn:
    from .chunking import language_of
    from .pipeline import clean_question

    t0 = time.perf_counter()
    asked = clean_question(question, assistant.settings.max_question_chars)
    standalone = asked
    if history:
        standalone = condense_with_model(model, llm, asked, history, language_of(asked))
    t1 = time.perf_counter()
    # The extractive answer carries the retrieval, the measured abstention rule and the fallback.
    base = assistant.ask(standalone, k=k, doc_ids=doc_ids)
    mode = llm.backend if llm.backend != "extractive" else str(getattr(model, "_llm_type", "llm"))
    timings = {"condense": (t1 - t0) * 1000, "retrieve": base.timings_ms.get("retrieve", 0.0)}
    return _Turn(base, standalone, asked, mode, timings)


def _inputs(turn: _Turn) -> dict[str, str]:
    lang = turn.base.language
    return {"passages": passage_block(turn.base.passages, lang), "question": turn.standalone}


def _before_generation(turn: _Turn) -> Answer | None:
    """The abstention decided from retrieval alone, as the extractive answer decides it: the
    model is not asked (small models do not abstain on their own)."""
    if turn.base.abstained or not turn.base.passages:
        notes = (*turn.base.notes, "abstained before generation: the retrieved passages do not answer it")
        return _answer(turn, turn.base.answer, True, (), notes, ())
    return None


def _finish(assistant: Assistant, turn: _Turn, draft: str, llm: LLMSettings, t_gen: float) -> Answer:
    t0 = time.perf_counter()
    passages = {p.n: p for p in turn.base.passages}
    checked = verify(
        draft,
        passages,
        question_lang=turn.base.language,
        bridge=assistant.retriever.bridge,
        drop_unsupported=llm.drop_unsupported,
    )
    turn.timings |= {"generate": t_gen, "verify": (time.perf_counter() - t0) * 1000}
    if checked.abstained:
        return _answer(turn, ABSTAIN[turn.base.language], True, (), ("the model found no answer in the passages",), ())
    if checked.problem:
        return _fallback(assistant, turn, checked)
    return _answer(turn, checked.text, False, checked.citations, checked.notes, checked.sentences)


def _fallback(assistant: Assistant, turn: _Turn, checked: Verified) -> Answer:
    base = turn.base
    extractive = verify_answer(assistant, base)
    note = f"generated answer unusable ({checked.problem}); showing the extractive answer"
    logger.info("%s: %r", note, checked.text[:200])
    turn.mode = "extractive"
    return _answer(turn, base.answer, base.abstained, base.citations, (note, *base.notes), extractive.sentences)


def _answer(
    turn: _Turn,
    text: str,
    abstained: bool,
    citations: tuple[Citation, ...],
    notes: Sequence[str],
    sentences: tuple[SentenceCheck, ...],
) -> Answer:
    timings = dict(turn.timings)
    timings["total"] = sum(v for key, v in timings.items() if key in {"condense", "retrieve", "generate", "verify"})
    timings["answer"] = turn.base.timings_ms.get("answer", 0.0)
    answer = Answer(
        question=turn.asked,
        answer=text,
        abstained=abstained,
        language=turn.base.language,
        citations=citations,
        passages=turn.base.passages,
        timings_ms=timings,
        mode=turn.mode,
        standalone_question=turn.standalone,
        notes=tuple(notes),
    )
    return with_sentences(answer, sentences)


def with_sentences(answer: Answer, sentences: tuple[SentenceCheck, ...]) -> Answer:
    return replace(answer, sentences=sentences)


def verify_answer(assistant: Assistant, answer: Answer) -> Verified:
    """The sentence checks of an answer already made (e.g. the extractive one), against its citations."""
    if answer.abstained:
        return Verified(answer.answer, (), (), abstained=True)
    return verify(
        answer.answer,
        {c.n: c for c in answer.citations},
        question_lang=answer.language,
        bridge=assistant.retriever.bridge,
    )


def _history_questions(history: History | None) -> list[str]:
    return [t if isinstance(t, str) else t[0] for t in history or ()]


def generate_answer(
    assistant: Assistant,
    question: str,
    *,
    k: int | None = None,
    doc_ids: Sequence[str] | None = None,
    history: History | None = None,
    chat_model: Any = None,
    settings: LLMSettings | None = None,
) -> Answer:
    """One answer from the backend in settings (RAG_LLM), or from `chat_model` when given.
    `history` is the conversation so far: (question, answer) pairs or standalone questions."""
    *_, final = stream_answer(
        assistant,
        question,
        k=k,
        doc_ids=doc_ids,
        history=history,
        chat_model=chat_model,
        settings=settings,
        _stream=False,
    )
    if not isinstance(final, Answer):  # stream_answer always ends with the Answer
        raise RagError("the answer stream ended without an answer")
    return final


def stream_answer(
    assistant: Assistant,
    question: str,
    *,
    k: int | None = None,
    doc_ids: Sequence[str] | None = None,
    history: History | None = None,
    chat_model: Any = None,
    settings: LLMSettings | None = None,
    _stream: bool = True,
) -> Iterator[str | Answer]:
    """Yield the model's draft token by token, then the final Answer. The Answer's text is
    authoritative: verification may mark or drop sentences, or fall back to the extractive answer."""
    llm = settings or LLMSettings.load()
    if chat_model is None and llm.backend == "extractive":
        answer = assistant.ask(question, k=k, doc_ids=doc_ids, history=_history_questions(history))
        yield with_sentences(answer, verify_answer(assistant, answer).sentences)
        return
    model = chat_model if chat_model is not None else make_chat_model(llm)
    turn = _prepare(assistant, question, model, llm, k, doc_ids, history)
    early = _before_generation(turn)
    if early is not None:
        yield early
        return
    chain = _answer_chain(model, turn.base.language)
    t0 = time.perf_counter()
    parts: list[str] = []
    with _model_errors(llm, model):
        if _stream:
            for token in chain.stream(_inputs(turn)):
                if not parts:
                    turn.timings["first_token"] = (time.perf_counter() - t0) * 1000
                parts.append(token)
                yield token
        else:
            parts.append(chain.invoke(_inputs(turn)))
    yield _finish(assistant, turn, "".join(parts), llm, (time.perf_counter() - t0) * 1000)
