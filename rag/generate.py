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
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import prompts
from .answer import Context, Draft, abstention, answerer
from .cite import citation_from_hit
from .config import PROJECT_ROOT, coerce
from .errors import ModelNotAvailableError, RagError
from .grammar import MAX_SENTENCES, JsonSentences, cited_sentences_schema, quote_by_quote_gbnf, render_json
from .text import CITATION_MARKER, is_instruction, language_of, strip_source_refs
from .types import Answer, Citation, Turn

if TYPE_CHECKING:
    from .pipeline import Assistant

logger = logging.getLogger(__name__)

__all__ = ["BACKENDS", "GeneratedAnswerer", "LLMSettings", "generate_answer", "make_chat_model", "stream_answer"]

BACKENDS = ("extractive", "openai", "llamacpp")
STRUCTURED = ("auto", "off")
# The default local writer, chosen on bench/bench_llm.py (README, "Figures"): the 1.5B model serves
# more answers as written and in English than the 0.5B one, at about twice its time to first token.
DEFAULT_GGUF = PROJECT_ROOT / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


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
    n_ctx: int = 2048  # RAG_LLM_N_CTX: the quotes and the prompt take 300-1,200 tokens, the answer <= max_tokens
    drop_unsupported: bool = False  # RAG_LLM_DROP_UNSUPPORTED: drop, rather than mark, unsupported sentences
    # RAG_LLM_STRUCTURED: how citations are enforced while decoding. "auto": a GBNF grammar with
    # llama.cpp, a JSON schema (response_format) with an OpenAI-compatible server, dropped for the
    # rest of the process when the server refuses it; "off": the prompt alone (then verification).
    structured: str = "auto"
    # RAG_LLM_THREADS for llama.cpp: one core is left to the rest (retrieval, the chat). Measured on
    # the 2-core machine under load: 2 threads gave 0.7 tokens/s, 1 thread 14 (llama.cpp's threads
    # wait for each other, so one descheduled thread stalls them all).
    threads: int = max(1, (os.cpu_count() or 2) - 1)

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
        if settings.structured not in STRUCTURED:
            raise RagError(
                f"RAG_LLM_STRUCTURED={settings.structured!r} is unknown; use one of {', '.join(STRUCTURED)}."
            )
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
        with _passive_openmp():
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
            n_threads=llm.threads,
            max_tokens=llm.max_tokens,
            temperature=0.0,
            verbose=False,
            streaming=True,
        )
    except Exception as exc:  # llama.cpp reports a bad file as ValueError/RuntimeError
        raise ModelNotAvailableError(
            f"llama.cpp cannot load {path} ({exc}). Re-run `make llm` to rebuild it and check its sha256."
        ) from exc


class ModelCallError(ModelNotAvailableError):
    """The model was configured but a call failed (unreachable, timed out, HTTP 5xx, crashed):
    an answer can still be given without it."""


@contextlib.contextmanager
def _passive_openmp() -> Iterator[None]:
    """llama.cpp's OpenMP runtime told to sleep, not spin, between parallel regions (read once,
    when the library loads; the variable is restored after, and a user's own setting wins).
    Measured on the shared 2-core machine: prompt evaluation of a 384-token prompt by the 0.5B
    model went from 19 to 90 tokens/s with one thread, the spinning runtime competing for the core."""
    key = "OMP_WAIT_POLICY"
    before = os.environ.get(key)
    os.environ.setdefault(key, "PASSIVE")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)


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
            raise ModelCallError(
                f"Cannot reach the language model at {where} ({name}: {exc}). Start the server or set "
                "RAG_LLM_BASE_URL / RAG_LLM_TIMEOUT, or use RAG_LLM=extractive."
            ) from exc
        status = getattr(exc, "status_code", None)
        if isinstance(status, int) and status >= 500:
            raise ModelCallError(
                f"The language model at {where} failed (HTTP {status}: {exc}). Check the server's log, "
                "or use RAG_LLM=extractive."
            ) from exc
        if status is not None:
            raise ModelNotAvailableError(
                f"The language model at {where} refused the request (HTTP {exc.status_code}: {exc}). "
                "Check RAG_LLM_MODEL and RAG_LLM_API_KEY, or use RAG_LLM=extractive."
            ) from exc
        if llm.backend == "llamacpp" and isinstance(exc, (RuntimeError, ValueError, OSError)):
            raise ModelCallError(f"llama.cpp failed on {where} ({exc}). Re-run `make llm`.") from exc
        raise


def _where(llm: LLMSettings, model: Any) -> str:
    if llm.backend == "llamacpp":
        return str(llm.model_path)
    base = getattr(model, "openai_api_base", None) or llm.base_url or "https://api.openai.com/v1"
    return f"{base} (model {getattr(model, 'model_name', llm.model)!r})"


# ---------------------------------------------------------------- the chains


def _condense_chain(model: Any, lang: str) -> Any:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages(
        [("system", prompts.CONDENSE_SYSTEM[lang]), ("human", prompts.CONDENSE_HUMAN[lang])]
    )
    return prompt | model | StrOutputParser()


def history_block(history: Sequence[Turn], lang: str) -> str:
    turns = []
    for turn in history:
        if not turn.answer:
            turns.append(prompts.TURN_QUESTION_ONLY[lang].format(question=turn.question))
        else:
            short = CITATION_MARKER.sub("", turn.answer).strip()[:300]
            turns.append(prompts.TURN[lang].format(question=turn.question, answer=short))
    return "\n".join(turns)


def condense_with_model(model: Any, llm: LLMSettings, question: str, history: Sequence[Turn], lang: str) -> str:
    """The follow-up rewritten by the model as a standalone question (the question itself when
    the model returns nothing usable)."""
    with _model_errors(llm, model):
        raw = _condense_chain(model, lang).invoke({"history": history_block(history, lang), "question": question})
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    text = re.sub(r"^(独立问题|改写后的问题|standalone question)\s*[:：]\s*", "", lines[0], flags=re.I) if lines else ""
    text = text.strip("\"'“”「」 ")
    return text if re.search(r"\w", text) and len(text) <= 500 else question


# ---------------------------------------------------------------- the answerer


@answerer
class GeneratedAnswerer:
    """A language model writes the answer from the numbered passages (retrieval, abstention and
    citations as for the extractive answer); the Assistant verifies its draft and falls back to
    the extractive answer when the draft is unusable. The model condenses follow-ups too."""

    name = "generated"

    def __init__(self, settings: LLMSettings | None = None, chat_model: Any = None) -> None:
        self.llm = settings or LLMSettings.load()
        if chat_model is None and self.llm.backend == "extractive":
            raise ModelNotAvailableError(
                "Generated answers need a language model: set RAG_LLM=openai (with RAG_LLM_BASE_URL and "
                "RAG_LLM_MODEL) or RAG_LLM=llamacpp (after `make llm`), or ask in extractive mode."
            )
        self._model = chat_model
        self._json_form = 0  # index into JSON_FORMATS: the structured output this server takes
        self.drop_unsupported = self.llm.drop_unsupported

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = make_chat_model(self.llm)
        return self._model

    @property
    def label(self) -> str:
        return self.llm.backend if self.llm.backend != "extractive" else str(getattr(self._model, "_llm_type", "llm"))

    def condense(self, question: str, history: Sequence[Turn]) -> str | None:
        return condense_with_model(self.model, self.llm, question, history, language_of(question))

    def stream(self, context: Context) -> Iterator[str | Draft]:
        """Quote, then write: the model gets only the quotes the extractive stage chose (numbered,
        with paper and page) and writes in the question's language; with llama.cpp a grammar makes
        every sentence end with [n] of those quotes, with a server a JSON schema where it takes one.
        A failed call (unreachable, timeout, HTTP 5xx) ends in a Draft with `failure` set, and the
        Assistant shows the extractive answer with the reason."""
        if context.decision.abstain or not context.passages:
            # Decided from retrieval alone: small models do not abstain on their own.
            yield abstention(context, "abstained before generation: the retrieved passages do not answer it")
            return
        quotes = quote_citations(context)[:MAX_SENTENCES]
        if not quotes:
            yield abstention(context, "abstained before generation: no sentence of the passages answers it")
            return
        lang = context.lang
        numbers = [q.n for q in quotes]
        constraint = self._constraint(numbers, lang)
        chain = _write_chain(self.model, lang, constraint)
        inputs = {"quotes": quote_block(quotes, lang), "question": context.standalone}
        t0 = time.perf_counter()
        parts: list[str] = []
        shown: list[str] = []
        timings: dict[str, float] = {}
        json_reply = JsonSentences(lang, numbers) if constraint[0] == "json" else None
        is_json: bool | None = None  # decided by the reply's first non-blank piece
        try:
            with _model_errors(self.llm, self.model):
                for token in chain.stream(inputs):
                    if not parts:
                        timings["first_token"] = (time.perf_counter() - t0) * 1000
                    parts.append(token)
                    piece = token
                    if json_reply is not None and is_json is None and token.strip():
                        is_json = token.lstrip().startswith("{")
                    if is_json:
                        piece = json_reply.feed(token)
                    if piece:
                        shown.append(piece)
                        yield piece
        except ModelNotAvailableError as exc:
            if constraint[0] == "json" and not parts and _refuses_format(exc):
                # This server does not take this form of structured output: the next form (or the
                # prompt alone) for the rest of the process.
                logger.warning("%s; trying %s", exc, JSON_FORMATS[self._json_form + 1] or "the prompt alone")
                self._json_form += 1
                yield from self.stream(context)
                return
            if not isinstance(exc, ModelCallError):
                raise
            yield Draft("", quotes, failure=f"the language model failed: {exc}", timings_ms=timings)
            return
        timings["generate"] = (time.perf_counter() - t0) * 1000
        raw = "".join(parts)
        text = render_json(raw, lang, numbers) if json_reply is not None else None
        notes: tuple[str, ...] = ()
        if text is None:
            text = raw
        elif shown:
            notes = ("structured reply (JSON schema) rendered as cited sentences",)
        text = cites_before_stop(_drop_unfinished(text))
        ground = {q.n: q.sentence for q in quotes}
        yield Draft(text, quotes, notes=notes, ground=ground, timings_ms=timings)

    def _constraint(self, numbers: Sequence[int], lang: str) -> tuple[str, Any]:
        """("grammar", LlamaGrammar) | ("json", response_format) | ("off", None)."""
        if self.llm.structured == "off":
            return "off", None
        if self.llm.backend == "llamacpp":
            from llama_cpp import LlamaGrammar

            return "grammar", LlamaGrammar.from_string(quote_by_quote_gbnf(numbers, lang), verbose=False)
        form = JSON_FORMATS[self._json_form]
        if self.llm.backend == "openai" and form is not None:
            schema = cited_sentences_schema(numbers)
            if form == "json_schema":  # OpenAI, vLLM, Ollama, LM Studio
                return "json", {
                    "type": "json_schema",
                    "json_schema": {"name": "cited_answer", "schema": schema, "strict": True},
                }
            return "json", {"type": "json_object", "schema": schema}  # llama_cpp.server
        return "off", None


# The forms of structured output tried in turn with an OpenAI-compatible server, then None (the
# prompt alone). llama_cpp.server answers OpenAI's "json_schema" with HTTP 500 and takes its own
# {"type": "json_object", "schema": ...}.
JSON_FORMATS = ("json_schema", "json_object", None)


def _refuses_format(exc: Exception) -> bool:
    """The server rejected the request's response_format (as HTTP 400/422, or 500 from a server
    that validates late), rather than failing on its own."""
    text = str(exc).lower()
    return "response_format" in text or "json_schema" in text or " 400" in text or " 422" in text


def quote_citations(context: Context) -> tuple[Citation, ...]:
    """The extractive stage's chosen sentences as citations numbered 1..m in the papers' order:
    `sentence` is the quote, `text` its whole passage (shown one click away)."""
    out = []
    chosen = [ev for ev in context.quotes if not is_instruction(ev.text)]  # never a source for a model
    for n, ev in enumerate(chosen, 1):
        out.append(citation_from_hit(n, ev.hit, context.papers.get(ev.hit.chunk.doc_id), ev.text))
    return tuple(out)


def quote_block(quotes: Sequence[Citation], lang: str) -> str:
    """The numbered quotes as the model sees them (the papers' own reference markers removed)."""
    out = []
    for q in quotes:
        where = f"，第 {q.page} 页" if lang == "zh" and q.page else (f", p. {q.page}" if q.page else "")
        text = re.sub(r"\s+", " ", strip_source_refs(q.sentence)).strip()
        out.append(prompts.QUOTE[lang].format(n=q.n, title=q.title, where=where, text=text))
    return "\n".join(out)


def _write_chain(model: Any, lang: str, constraint: tuple[str, Any]) -> Any:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    kind, value = constraint
    system = prompts.WRITE_SYSTEM[lang] + (prompts.JSON_REPLY[lang] if kind == "json" else "")
    if kind == "grammar":  # one sentence per quote, as the grammar has it
        system = re.sub(r"^1\. .*$", lambda _: prompts.PER_QUOTE[lang], system, count=1, flags=re.M)
    prompt = ChatPromptTemplate.from_messages([("system", system), ("human", prompts.WRITE_HUMAN[lang])])
    if kind == "grammar":
        model = model.bind(grammar=value)
    elif kind == "json":
        model = model.bind(response_format=value)
    return prompt | model | StrOutputParser()


_STOP_THEN_CITES = re.compile(r"([.。!?！？])[ \t]*((?:\[\d{1,3}\])+)")


def cites_before_stop(text: str) -> str:
    """ "… regions. [1] Next …" as "… regions [1]. Next …": a citation written after a sentence's
    full stop belongs to that sentence, not to the next one the sentence splitter would give it."""
    return _STOP_THEN_CITES.sub(lambda m: f"{' ' if m.group(1) == '.' else ''}{m.group(2)}{m.group(1)}", text)


def _drop_unfinished(text: str) -> str:
    """Without a last sentence cut off by the token limit (it has no citation and no end)."""
    stripped = text.rstrip()
    if not stripped or re.search(r"[.。!?！？]$|\]$", stripped):
        return text
    m = list(re.finditer(r"\][.。!?！？]?", stripped))
    return stripped[: m[-1].end()] if m else text


def generate_answer(
    assistant: Assistant, question: str, *, settings: LLMSettings | None = None, chat_model: Any = None, **options: Any
) -> Answer:
    """`assistant.ask(question, mode=GeneratedAnswerer(settings, chat_model), **options)`."""
    return assistant.ask(question, mode=_answerer_for(settings, chat_model), **options)


def stream_answer(
    assistant: Assistant, question: str, *, settings: LLMSettings | None = None, chat_model: Any = None, **options: Any
) -> Iterator[str | Answer]:
    """`assistant.stream(...)` in generated mode (extractive when no model is configured)."""
    return assistant.stream(question, mode=_answerer_for(settings, chat_model), **options)


def _answerer_for(settings: LLMSettings | None, chat_model: Any) -> GeneratedAnswerer | str:
    llm = settings or LLMSettings.load()
    if chat_model is None and llm.backend == "extractive":
        return "extractive"
    return GeneratedAnswerer(llm, chat_model)
