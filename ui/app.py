"""The chat UI: build_demo(assistant_or_factory) -> gr.Blocks, and serve(settings, host, port).

Importing this module loads nothing heavy: Gradio is imported inside the functions that build the
page, and the model only when `serve` (or the caller) loads the assistant. The UI uses only the
front door, `rag`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import render

if TYPE_CHECKING:
    import gradio as gr

    import rag

logger = logging.getLogger(__name__)

__all__ = ["AssistantRef", "build_demo", "launch", "launch_options", "serve"]

EXAMPLES = [
    "中国已成为多少个国家和地区的主要贸易伙伴？",
    "跨境电商物流面临哪些问题？",
    "Of how many countries and regions is China the main trading partner?",
]
GENERATED = "generated"


def answer_modes() -> list[str]:
    """Extractive always; generated when a language model is configured (RAG_LLM)."""
    import rag

    try:
        backend = rag.LLMSettings.load().backend
    except rag.RagError:
        backend = "extractive"
    return ["extractive"] if backend == "extractive" else ["extractive", GENERATED]


WORKING = '<div class="rag-working">正在检索… Searching the papers…</div>'
UNEXPECTED = (
    "处理这个问题时发生了意外错误，已记录在服务器日志中；请换个问法再试。 "
    "An unexpected error occurred (logged on the server); please try again."
)


class AssistantRef:
    """The assistant in use, swapped atomically after a re-index: a question already running keeps
    the assistant it started with, the next one gets the new index."""

    def __init__(self, assistant: rag.Assistant, factory: Callable[[], rag.Assistant] | None = None) -> None:
        self._assistant = assistant
        self._factory = factory
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()  # one re-index at a time

    def get(self) -> rag.Assistant:
        with self._lock:
            return self._assistant

    def reindex(self, *, rebuild: bool = False) -> str:
        """Bring the index up to date with the corpus, load it, warm it up, then swap it in."""
        import rag

        if not self._build_lock.acquire(blocking=False):
            raise rag.RagError("A re-index is already running; wait for it to finish.")
        try:
            settings = self.get().settings
            report = rag.build_index(settings, rebuild=rebuild)
            fresh = self._factory() if self._factory else rag.load(settings)
            if hasattr(fresh, "warm_up"):
                fresh.warm_up()
            with self._lock:
                self._assistant = fresh
            skipped = "".join(f"\n- skipped: {s}" for s in report.skipped)
            return f"索引已更新并加载 Index updated and loaded: {report.summary()}{skipped}"
        finally:
            self._build_lock.release()


def _resolve(assistant_or_factory: Any) -> AssistantRef:
    if hasattr(assistant_or_factory, "ask"):
        return AssistantRef(assistant_or_factory)
    if callable(assistant_or_factory):
        return AssistantRef(assistant_or_factory(), assistant_or_factory)
    raise TypeError(f"build_demo needs an Assistant or a function returning one, got {type(assistant_or_factory)!r}")


def _user_message(exc: BaseException) -> str:
    """The sentence a user sees: a RagError's own message; anything else is logged, not shown."""
    import rag

    if isinstance(exc, rag.RagError):
        return str(exc)
    logger.exception("unexpected error while answering", exc_info=exc)
    return UNEXPECTED


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def with_pdf_links(answer: dict[str, Any], corpus_dir: Path | str) -> dict[str, Any]:
    """Each citation and passage from a PDF gets `open_url`: the file served by the app (launch
    allows the corpus folder), opened at the page where the passage starts (`#page=N`, which
    browsers' PDF viewers follow)."""
    for item in (*answer.get("citations", ()), *answer.get("passages", ())):
        source, index = item.get("source"), item.get("pdf_page")
        if source and index and str(source).lower().endswith(".pdf"):
            path = (Path(corpus_dir) / str(source)).resolve()
            item["open_url"] = f"/gradio_api/file={quote(str(path))}#page={int(index)}"
    return answer


def settings_dict(settings: Any) -> dict[str, Any]:
    if hasattr(settings, "to_dict"):  # rag.Settings: secrets (the Milvus token) left out
        return {name: _plain(value) for name, value in settings.to_dict().items()}
    if dataclasses.is_dataclass(settings):
        return {f.name: _plain(getattr(settings, f.name)) for f in dataclasses.fields(settings)}
    return {}


def exchange_record(turn: dict[str, Any], history: Sequence[str], settings: Any) -> dict[str, Any]:
    """Everything needed to reproduce or audit one answer: question, request, settings, and the
    answer with its passages, scores and citations."""
    return {
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "question": turn["question"],
        "history": list(history),
        "request": turn["request"],
        "settings": settings_dict(settings),
        "answer": turn["answer"],
    }


WRITING_STYLES = [("GB/T 7714-2025", "gbt7714-2025"), ("GB/T 7714-2015", "gbt7714-2015")]
WRITING_FORMATS = [
    ("Markdown + 参考文献 references", "markdown"),
    ("BibTeX", "bibtex"),
    ("RIS (EndNote, NoteExpress)", "ris"),
    ("CSL-JSON (Zotero)", "csl-json"),
]


def writing_text(
    answer: rag.Answer, papers: Sequence[rag.Paper], style: str = "gbt7714-2025", fmt: str = "markdown"
) -> str:
    """For pasting into a paper: Markdown with footnotes (each with the cited printed page) and
    the numbered reference list in the chosen GB/T 7714 edition; or the cited papers as BibTeX,
    RIS or CSL-JSON for a reference manager."""
    import rag

    by_id = {p.doc_id: p for p in papers}
    if answer.abstained:
        return f"{answer.answer}\n\n（没有出处可引用 Nothing to cite.）"
    cited = [by_id[c.doc_id] for c in answer.citations if c.doc_id in by_id]
    if fmt != "markdown":
        return rag.export_references(list({p.doc_id: p for p in cited}.values()), fmt)
    edition = style.rsplit("-", 1)[-1]
    return (
        f"{rag.markdown_for_writing(answer, by_id, style=style)}\n\n"
        f"参考文献 References (GB/T 7714-{edition})\n\n{rag.reference_list(cited, style=style)}\n"
    )


def _prepare(assistant: Any, question: object) -> tuple[str, tuple[str, ...]]:
    """The question as it will be searched, and notes the user should see (it was shortened)."""
    import rag

    return rag.prepare_question(question, getattr(assistant.settings, "max_question_chars", 2000))


def _noted(answer: rag.Answer, notes: Sequence[str]) -> rag.Answer:
    return dataclasses.replace(answer, notes=(*notes, *answer.notes)) if notes else answer


def _ask(
    assistant: rag.Assistant, question: object, k: int | None, doc_ids: list[str] | None, history: list[str]
) -> tuple[rag.Answer, tuple[str, ...]]:
    """The extractive answer, with the notes on the input in front, and those notes."""
    text, notes = _prepare(assistant, question)
    return _noted(assistant.ask(text, k=k, doc_ids=doc_ids or None, history=history), notes), notes


def _history(history: object) -> list[str]:
    """Earlier standalone questions sent through the API, cleaned like a question; unusable ones
    (empty, not text) are left out rather than failing the new question."""
    import rag

    if not isinstance(history, list | tuple):
        return []
    cleaned = []
    for item in history:
        try:
            cleaned.append(rag.clean_question(item))
        except rag.RagError:
            continue
    return cleaned


class _Handlers:
    """The event functions of one page; every failure becomes a readable message."""

    def __init__(self, ref: AssistantRef) -> None:
        self.ref = ref
        self.export_dir = Path(tempfile.mkdtemp(prefix="rag-ui-"))

    def ask_json(
        self, question: str, k: int | None = None, doc_ids: list[str] | None = None, history: list[str] | None = None
    ) -> dict:
        """Answer one question; returns `Answer.to_dict()` (the JSON contract of `rag ask --json`).
        k is None (the settings' default) or 1..rag.MAX_K; anything else is a readable error."""
        import gradio as gr

        import rag

        try:
            answer, _ = _ask(self.ref.get(), question, rag.check_k(k), doc_ids, _history(history))
        except Exception as exc:  # noqa: BLE001 - shown as a message, never a traceback
            raise gr.Error(_user_message(exc)) from None
        return answer.to_dict()

    def respond(self, question: str, chat: list, turns: list, k: float, mode: str, doc_ids: list[str]):  # noqa: ANN201
        """Chat submit: show the question at once, then the answer and its sources."""
        import gradio as gr

        import rag

        question = (question or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        chat = [*chat, {"role": "user", "content": question}, {"role": "assistant", "content": WORKING}]
        yield "", chat, turns, gr.skip(), gr.skip()
        history = [t["answer"]["standalone_question"] for t in turns if t.get("answer")]
        mid = uuid.uuid4().hex[:8]
        request = {"k": k, "mode": mode, "doc_ids": list(doc_ids or []), "history": history}
        assistant = self.ref.get()
        try:
            request["k"] = k = rag.check_k(k)
            if mode == GENERATED:
                answer = None
                text, notes = _prepare(assistant, question)
                for piece in self._stream(assistant, text, k, doc_ids, history):
                    if isinstance(piece, str):  # the model's draft, token by token
                        chat[-1] = {"role": "assistant", "content": render.draft_message(piece)}
                        yield gr.skip(), chat, gr.skip(), gr.skip(), gr.skip()
                    else:
                        answer = piece
                if answer is None:
                    raise RuntimeError("the generator returned no answer")
                answer = _noted(answer, notes)
            else:
                answer, notes = _ask(assistant, question, k, doc_ids, history)
        except Exception as exc:  # noqa: BLE001 - the app keeps working after any error
            chat[-1] = {"role": "assistant", "content": render.error_message(_user_message(exc))}
            turns = [*turns, {"mid": mid, "question": question, "request": request, "error": str(exc)}]
            yield "", chat, turns, render.sources_panel(turns), gr.skip()
            return
        shown = with_pdf_links(answer.to_dict(), assistant.settings.corpus_dir)
        turn = {"mid": mid, "question": question, "request": request, "answer": shown, "obj": answer}
        turns = [*turns, turn]
        chat[-1] = {"role": "assistant", "content": render.chat_message(turn["answer"], mid, notices=notes)}
        path = self.export_dir / f"rag-exchange-{mid}.json"
        record = exchange_record(turn, history, assistant.settings)
        path.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        yield "", chat, turns, render.sources_panel(turns), gr.DownloadButton(value=str(path), visible=True)

    def _stream(self, assistant: Any, question: str, k: int, doc_ids: list[str] | None, history: list[str]):  # noqa: ANN202
        """Draft text so far (str) as tokens arrive, then the verified Answer."""
        import rag

        draft = ""
        for piece in rag.stream_answer(assistant, question, k=k, doc_ids=doc_ids or None, history=history):
            if isinstance(piece, str):
                draft += piece
                yield draft
            else:
                yield piece

    def for_writing(self, turns: list, style: str = "gbt7714-2025", fmt: str = "markdown") -> str:
        answered = [t for t in turns if t.get("obj") is not None]
        if not answered:
            return "先提一个问题。 Ask a question first."
        try:
            return writing_text(answered[-1]["obj"], self.ref.get().papers, style or "gbt7714-2025", fmt or "markdown")
        except Exception as exc:  # noqa: BLE001
            return f"出错了 Error: {_user_message(exc)}"

    def library(self) -> list[list[object]]:
        assistant = self.ref.get()
        return render.library_rows(assistant.papers, assistant.chunk_counts())

    def record(self, doc_id: str | None) -> tuple[str, str, str, str, str]:
        """The fields of one paper for the record form: title, authors ("; "), year, journal, DOI."""
        paper = next((p for p in self.ref.get().papers if p.doc_id == doc_id), None)
        if paper is None:
            return "", "", "", "", ""
        title = paper.title if paper.title_known else ""
        return title, "; ".join(paper.authors), str(paper.year or ""), paper.journal or "", paper.doi or ""

    def save_record(self, doc_id: str | None, title: str, authors: str, year: str, journal: str, doi: str):  # noqa: ANN201
        """Write the form to catalog.toml (it outranks every other source), then re-index."""
        import gradio as gr

        import rag

        if not doc_id:
            yield "先选择一篇论文。 Choose a paper first.", gr.skip(), gr.skip(), gr.skip()
            return
        if self.ref.get().settings.zotero:  # Zotero is the library's record; its folder is never written
            yield (
                "这是 Zotero 文库：请在 Zotero 中修改条目，然后重建索引。 This is a Zotero library: fix the item in "
                "Zotero, then re-index.",
                gr.skip(),
                gr.skip(),
                gr.skip(),
            )
            return
        fields = {
            "title": title,
            "authors": [a.strip() for a in re.split(r"[;；]", authors or "") if a.strip()],
            "year": year,
            "journal": journal,
            "doi": doi,
        }
        try:
            path = rag.save_catalog_entry(self.ref.get().settings.corpus_dir, doc_id, fields)
        except Exception as exc:  # noqa: BLE001
            yield f"没有保存 Not saved: {_user_message(exc)}", gr.skip(), gr.skip(), gr.skip()
            return
        yield from self._reindexed(f"已写入 Saved to {path}. ", rebuild=False)

    def reindex(self, rebuild: bool):  # noqa: ANN201

        yield from self._reindexed("", rebuild=bool(rebuild))

    def _reindexed(self, prefix: str, *, rebuild: bool):  # noqa: ANN202
        import gradio as gr

        yield prefix + "正在重建索引… Re-indexing (reading, chunking, embedding)…", gr.skip(), gr.skip(), gr.skip()
        try:
            status = self.ref.reindex(rebuild=rebuild)
        except Exception as exc:  # noqa: BLE001
            yield prefix + f"重建失败 Re-index failed: {_user_message(exc)}", gr.skip(), gr.skip(), gr.skip()
            return
        papers = self.ref.get().papers
        choices = gr.CheckboxGroup(choices=render.paper_choices(papers), value=[])
        yield prefix + status, self.library(), choices, intro(papers)


def intro(papers: Sequence[Any]) -> str:
    """The page header, counting the papers the loaded index holds (it changes on re-index)."""
    n = len(papers)
    if not n:
        return (
            "## 论文问答 · Paper QA\n"
            "索引中还没有论文，请在“文献库”重建索引。 The index holds no papers yet; re-index in Library."
        )
    return (
        "## 论文问答 · Paper QA\n"
        f"基于索引中的 {n} 篇论文回答问题，每句答案都标注出处。 "
        f"Ask in Chinese or English about the {n} paper{'s' if n != 1 else ''} in the index; "
        "every sentence cites its source."
    )


def build_demo(assistant_or_factory: Any) -> gr.Blocks:
    """The page, for an Assistant or a zero-argument function returning one (called now, and
    again after each re-index). Launch it with `launch(demo, ...)`, which adds the theme, CSS and
    the script that makes [n] markers scroll to their sources."""
    import gradio as gr

    ref = _resolve(assistant_or_factory)
    h = _Handlers(ref)
    with gr.Blocks(title="论文问答 Paper QA", analytics_enabled=False) as demo:
        header = gr.Markdown(intro(ref.get().papers), elem_id="rag-intro")
        turns = gr.State([])
        with gr.Tab("对话 Chat"):
            c = _chat_tab(ref.get())
        with gr.Tab("文献库 Library"):
            lib = _library_tab(h)
        inputs = [c.box, c.chat, turns, c.k, c.mode, c.papers]
        outputs = [c.box, c.chat, turns, c.sources, c.download]
        c.box.submit(h.respond, inputs, outputs, api_visibility="private")
        c.send.click(h.respond, inputs, outputs, api_visibility="private")
        c.copy.click(h.for_writing, [turns, c.style, c.format], [c.writing], api_visibility="private")
        for control in (c.style, c.format):
            control.change(h.for_writing, [turns, c.style, c.format], [c.writing], api_visibility="private")
        c.clear.click(
            lambda: ([], [], render.sources_panel([]), "", gr.DownloadButton(visible=False)),
            None,
            [c.chat, turns, c.sources, c.writing, c.download],
            api_visibility="private",
        )
        lib.button.click(
            h.reindex,
            [lib.rebuild],
            [lib.status, lib.table, c.papers, header],
            concurrency_limit=1,
            concurrency_id="reindex",
            api_visibility="private",
        )
        lib.paper.change(h.record, [lib.paper], lib.fields, api_visibility="private")
        lib.save.click(
            h.save_record,
            [lib.paper, *lib.fields],
            [lib.status, lib.table, c.papers, header],
            concurrency_limit=1,
            concurrency_id="reindex",
            api_visibility="private",
        )
        gr.api(h.ask_json, api_name="ask")
    demo.queue(default_concurrency_limit=2)
    return demo


def _chat_tab(assistant: rag.Assistant) -> SimpleNamespace:
    import gradio as gr

    c = SimpleNamespace()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            c.chat = gr.Chatbot(
                label="对话 Chat",
                elem_id="rag-chat",
                height=520,
                buttons=[],  # its copy button would copy our HTML; "Copy for writing" is the copy
                feedback_options=None,
                placeholder="提出一个关于论文的问题。 Ask about the papers.",
            )
            with gr.Row():
                c.box = gr.Textbox(
                    show_label=False,
                    placeholder="输入问题，按回车发送 Type a question, Enter to send",
                    elem_id="rag-question",
                    scale=5,
                    autofocus=True,
                )
                c.send = gr.Button("发送 Send", variant="primary", elem_id="rag-send", scale=1, min_width=90)
            gr.Examples(EXAMPLES, inputs=[c.box], label="示例 Examples")
        with gr.Column(scale=2, min_width=340):
            gr.Markdown("#### 出处 Sources")
            c.sources = gr.HTML(render.sources_panel([]), elem_id="rag-sources", max_height=640, js_on_load=None)
    with gr.Accordion("设置 Settings", open=False, elem_id="rag-settings"):
        k_default = min(max(int(getattr(assistant.settings, "k", 5)), 1), 10)
        c.k = gr.Slider(1, 10, value=k_default, step=1, label="检索段落数 Passages (k)")
        modes = answer_modes()
        c.mode = gr.Dropdown(
            modes, value=modes[-1], label="回答方式 Answer mode (generated: RAG_LLM is set; sentences are verified)"
        )
        c.papers = gr.CheckboxGroup(
            render.paper_choices(assistant.papers),
            value=[],
            label="只在所选论文中检索 Restrict to papers (none = all)",
            elem_id="rag-papers",
        )
    with gr.Row():
        c.copy = gr.Button("复制用于写作 Copy for writing", elem_id="rag-copy-writing")
        c.style = gr.Dropdown(
            WRITING_STYLES, value="gbt7714-2025", label="著录格式 Style", elem_id="rag-style", min_width=160
        )
        c.format = gr.Dropdown(
            WRITING_FORMATS, value="markdown", label="格式 Format", elem_id="rag-format", min_width=160
        )
        c.download = gr.DownloadButton("下载 JSON Download exchange", visible=False, elem_id="rag-download")
        c.clear = gr.Button("新对话 New conversation", elem_id="rag-clear")
    c.writing = gr.Textbox(
        label="用于写作（Markdown + GB/T 7714，或 BibTeX / RIS / CSL-JSON） For writing",
        lines=8,
        max_lines=30,
        buttons=["copy"],
        interactive=False,
        elem_id="rag-writing",
    )
    return c


def _library_tab(h: _Handlers) -> SimpleNamespace:
    import gradio as gr

    lib = SimpleNamespace()
    lib.table = gr.Dataframe(
        h.library(),
        headers=render.LIBRARY_HEADERS,
        interactive=False,
        wrap=True,
        elem_id="rag-library",
    )
    with gr.Row():
        lib.rebuild = gr.Checkbox(label="全部重新嵌入 Re-embed everything", value=False)
        lib.button = gr.Button("重建索引 Re-index", elem_id="rag-reindex")
    with gr.Accordion("修改著录信息 Fix a record (saved to catalog.toml)", open=False, elem_id="rag-record"):
        lib.paper = gr.Dropdown(
            render.paper_choices(h.ref.get().papers), label="论文 Paper", elem_id="rag-record-paper"
        )
        lib.fields = [
            gr.Textbox(label="题名 Title", elem_id="rag-record-title"),
            gr.Textbox(label="作者 Authors (; 分隔 separated)", elem_id="rag-record-authors"),
            gr.Textbox(label="年 Year", elem_id="rag-record-year"),
            gr.Textbox(label="刊名 Journal", elem_id="rag-record-journal"),
            gr.Textbox(label="DOI", elem_id="rag-record-doi"),
        ]
        lib.save = gr.Button("保存并重建索引 Save and re-index", elem_id="rag-record-save")
    lib.status = gr.Markdown("", elem_id="rag-reindex-status")
    return lib


CITE_SCRIPT = """
<script>
(function () {
  if (window.__ragCiteLinks) return;
  window.__ragCiteLinks = true;
  // [n] in an answer -> its card in the sources panel: open, scroll into view, highlight.
  document.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest('a[href^="#src-"]') : null;
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    var card = document.getElementById(a.getAttribute("href").slice(1));
    if (!card) return;
    var more = card.closest("details");
    if (more) more.open = true;
    document.querySelectorAll(".rag-src.rag-active").forEach(function (el) { el.classList.remove("rag-active"); });
    card.classList.add("rag-active");
    card.scrollIntoView({ behavior: "smooth", block: "center" });
  }, true);
})();
</script>
"""


def launch_options() -> dict[str, Any]:
    """Theme, CSS and script for `Blocks.launch` (Gradio 6 takes them there, not in Blocks)."""
    import gradio as gr

    theme = gr.themes.Default(
        primary_hue="teal",
        font=(
            gr.themes.LocalFont("Source Sans Pro"),
            "Noto Sans CJK SC",
            "PingFang SC",
            "Microsoft YaHei",
            "ui-sans-serif",
            "system-ui",
            "sans-serif",
        ),
        font_mono=(gr.themes.LocalFont("IBM Plex Mono"), "Noto Sans Mono CJK SC", "ui-monospace", "monospace"),
    )
    return {
        "theme": theme,
        "css": Path(__file__).with_name("style.css").read_text(encoding="utf-8"),
        "head": CITE_SCRIPT,
    }


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    corpus_dir: Path | str | None = None,
    **kwargs: Any,
) -> Any:
    """`demo.launch` with the page's theme, CSS and script; extra keyword arguments pass through.
    `corpus_dir` is served read-only so that a citation can open its PDF at the cited page."""
    if corpus_dir is not None:
        kwargs["allowed_paths"] = [*kwargs.get("allowed_paths", ()), str(Path(corpus_dir).resolve())]
    options = {
        "server_name": host,
        "server_port": port,
        "show_error": False,
        "footer_links": ["api"],
        **launch_options(),
        **kwargs,
    }
    return demo.launch(**options)


def serve(settings: rag.Settings | None = None, host: str = "127.0.0.1", port: int = 7860) -> int:
    """Build the index if there is none, load and warm up the assistant, and serve the page
    until interrupted. Returns the exit code."""
    import rag

    settings = settings or rag.Settings.load()
    rag.ensure_models(settings)
    assistant = rag.open_or_build(settings)
    assistant.warm_up()
    demo = build_demo(assistant)  # a re-index reloads with assistant.settings
    # The corpus folder is served so that a citation can open its PDF at the cited page.
    launch(demo, host=host, port=port, corpus_dir=settings.corpus_dir)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`rag serve` (registered as a `rag.commands` entry point): open the chat on localhost."""
    import argparse

    import rag

    parser = argparse.ArgumentParser(prog="rag serve", description="Open the chat UI on localhost.")
    parser.add_argument("--corpus", help="folder of papers (default: corpus/, or RAG_CORPUS_DIR)")
    parser.add_argument("--index", help="index folder (default: index/, or RAG_INDEX_DIR)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    settings = rag.Settings.load(corpus_dir=args.corpus, index_dir=args.index)
    return int(serve(settings, host=args.host, port=args.port) or 0)
