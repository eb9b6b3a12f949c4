"""`rag models | index | ask | eval | serve`: main(argv) -> exit code. Uses only the front door."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import rag

logger = logging.getLogger(__name__)

SAMPLE_QUESTION = "中国已成为多少个国家和地区的主要贸易伙伴？"


def _settings(args: argparse.Namespace) -> rag.Settings:
    return rag.Settings.load(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index", None),
        k=getattr(args, "k", None),
        use_bm25=False if getattr(args, "no_bm25", False) else None,
        use_dense=False if getattr(args, "no_dense", False) else None,
        ocr=getattr(args, "ocr", None),
        zotero=getattr(args, "zotero", None),
        zotero_collection=getattr(args, "collection", None),
    )


def cmd_models(args: argparse.Namespace) -> int:
    settings = rag.Settings.load()
    path = rag.provision_e5(Path(args.dest) if args.dest else Path(settings.embedder_path), force=args.force)
    print(f"embedder ready: {path}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not args.status:
        rag.ensure_models(settings)
    # Skipped files and copies were each warned about once, as they were met (logging, stderr).
    if args.status:
        print(rag.index_status(settings).summary())
        return 0
    if args.collection and not settings.zotero:
        raise rag.RagError("--collection needs a Zotero library: add --zotero DIR (or RAG_CORPUS=zotero:DIR).")
    if args.to:
        print(rag.copy_index(settings, args.to, wait=args.wait))
        if settings.store != args.to:
            print(f"To ask and chat over the copy, set RAG_STORE={args.to}.")
        return 0
    report = rag.build_index(settings, rebuild=args.rebuild, wait=args.wait)
    if report.metadata:
        print("metadata from reference managers:")
        for line in report.metadata:
            print(f"  {line}")
    print(report.summary())
    if settings.zotero and not os.environ.get("RAG_CORPUS"):
        print(f"To ask and chat over this library, set RAG_CORPUS=zotero:{settings.zotero} (its PDFs open from there).")
    return 0


def _read_questions(path: str) -> list[rag.QuestionLine]:
    """The non-blank lines of FILE (or stdin for "-"), read as bytes so that no byte can stop
    the batch: undecodable bytes become U+FFFD with a note on that line's answer."""
    try:
        if path == "-":
            data: str | bytes = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        else:
            data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise rag.RagError(
            f"cannot read questions from {path} ({reason}). Give a file with one question per line, or - for stdin."
        ) from None
    return rag.read_question_lines(data)


def cmd_ask(args: argparse.Namespace) -> int:
    """One output per question, in order: a bad line or a failed question gives an error in its
    place (an error object with --json) and the batch goes on; exit 1 at the end if any failed."""
    items = [rag.QuestionLine(0, rag.printable(q), q) for q in args.question]
    if args.questions:
        items += _read_questions(args.questions)
    if not items:
        raise rag.BadQuestionError('No question given. Usage: rag ask "你的问题" (or --questions FILE).')
    assistant = rag.load(_settings(args))
    llm = rag.LLMSettings.load(backend=args.llm)
    failed = 0
    for item in items:
        try:
            answer, notes = _ask_one(assistant, llm, item)
        except rag.RagError as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad question must not lose the rest of the batch
            logger.debug("unexpected error answering %r", item.text[:200], exc_info=True)
            message = f"unexpected {type(exc).__name__}: {exc} (a bug; rerun as `rag -vv ask …` for the traceback)"
        else:
            print(_json_line(answer.to_dict()) if args.json else format_answer(answer, notes), flush=True)
            continue
        failed += 1
        _print_error(item, rag.printable(message), as_json=args.json)
    return 1 if failed else 0


def _ask_one(
    assistant: rag.Assistant, llm: rag.LLMSettings, item: rag.QuestionLine
) -> tuple[rag.Answer, tuple[str, ...]]:
    """The answer to one line, with the notes on what was changed in the input at its front."""
    if item.question is None:
        raise rag.BadQuestionError(item.error or f"line {item.line} has no question.")
    text, shortened = rag.prepare_question(item.question, assistant.settings.max_question_chars)
    mode = "extractive" if llm.backend == "extractive" else rag.GeneratedAnswerer(llm)
    answer = assistant.ask(text, mode=mode)
    notes = (*item.notes, *shortened)
    return (dataclasses.replace(answer, notes=(*notes, *answer.notes)) if notes else answer), notes


def _print_error(item: rag.QuestionLine, message: str, *, as_json: bool) -> None:
    if as_json:
        record: dict[str, object] = {"question": rag.printable(item.question or item.text)[:200], "error": message}
        if item.line:
            record["line"] = item.line
        print(_json_line(record), flush=True)
    else:
        where = f"line {item.line}: " if item.line and not message.startswith("line ") else ""
        print(f"error: {where}{message}", file=sys.stderr, flush=True)


def _json_line(obj: dict) -> str:
    """One JSON line, readable (ensure_ascii=False) and always encodable: should a lone surrogate
    get through, the line is written with \\u escapes instead of failing the print."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj)
    return text


def format_answer(answer: rag.Answer, notices: Sequence[str] = ()) -> str:
    """The answer for a person; `notices` (e.g. that the question was shortened) come first."""
    lines = [f"(note: {n})" for n in notices] + [answer.answer, ""]
    if answer.mode != "extractive":
        notes = [n for n in answer.notes if not n.startswith(("evidence=", "similarity="))]
        lines += [f"({answer.mode}; {note})" for note in notes]
        unsupported = [s for s in answer.sentences if not s.supported]
        lines.append(f"({len(answer.sentences) - len(unsupported)}/{len(answer.sentences)} sentences verified)")
        lines.append("")
    if answer.abstained:
        lines.append(
            "Closest passages (related, not sources):"
            if answer.language == "en"
            else "最接近的段落（仅供参考，并非出处）："
        )
        items = answer.passages[:3]
    else:
        lines.append("References:" if answer.language == "en" else "参考出处：")
        items = answer.citations
    for c in items:
        where = ", ".join(x for x in (c.section, f"p. {c.page}" if c.page else None) if x)
        lines.append(f"[{c.n}] {c.title} ({c.doc_id}){' — ' + where if where else ''}  score {c.score:.3f}")
        quote = c.sentence or c.text
        lines.append(f"    “{quote if len(quote) <= 300 else quote[:300] + '…'}”")
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job until the chat UI exists: make sure models and index exist, answer a sample."""
    settings = _settings(args)
    rag.ensure_models(settings)
    assistant = rag.open_or_build(settings)
    print(f"Q: {args.question}\n")
    print(format_answer(assistant.ask(args.question)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """The indexed papers' references in a GB/T 7714 style or as BibTeX/RIS/CSL-JSON."""
    settings = _settings(args)
    papers = rag.indexed_papers(settings)
    if args.doc:
        known = {p.doc_id for p in papers}
        missing = [d for d in args.doc if d not in known]
        if missing:
            raise rag.RagError(f"No paper {', '.join(missing)} in {settings.index_dir}/; `rag export` lists all.")
        papers = [p for p in papers if p.doc_id in set(args.doc)]
    text = rag.export_references(papers, args.format)
    if args.output:
        Path(args.output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"{len(papers)} references ({args.format}) -> {args.output}", file=sys.stderr)
    else:
        print(text.rstrip("\n"))
    return 0


# One-line help for the commands the project's own packages register (read without importing them).
PLUGIN_HELP = {
    "serve": "open the chat UI on localhost",
    "eval": "run the eval harness: dev and test splits, conversations, or your own questions",
}


def plugin_commands() -> dict[str, object]:
    """Commands other packages register under the `rag.commands` entry-point group (the chat
    UI's `serve`, the harness's `eval`): name -> entry point, loaded only when run."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="rag.commands")}


def run_plugin(name: str, rest: list[str]) -> int:
    entry = plugin_commands().get(name)
    if entry is None:
        raise rag.RagError(f"`rag {name}` is not installed; run `make setup` (it registers the commands).")
    try:
        main = entry.load()  # type: ignore[attr-defined]
    except ImportError as exc:
        raise rag.RagError(f"`rag {name}` cannot be loaded ({exc}); run `make setup`.") from exc
    return int(main(rest) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Cited answers from a folder of papers.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", help="folder of papers (default: corpus/, or RAG_CORPUS_DIR)")
        p.add_argument("--index", help="index folder (default: index/, or RAG_INDEX_DIR)")

    p = sub.add_parser("models", help="provision the offline multilingual-e5-small embedder into models/")
    p.add_argument("--dest")
    p.add_argument("--force", action="store_true")
    p = sub.add_parser("index", help="build or update the index from the corpus folder")
    common(p)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")
    p.add_argument(
        "--status",
        action="store_true",
        help="say what is indexed, what is pending (new, changed, removed files), what failed, whether a build runs",
    )
    p.add_argument(
        "--zotero",
        metavar="DIR",
        help="index a Zotero library's PDFs with their metadata: its data directory (the folder with "
        "zotero.sqlite and storage/; or RAG_CORPUS=zotero:DIR). Read-only; Zotero may keep running",
    )
    p.add_argument("--collection", metavar="NAME", help="with --zotero: only this collection and its subcollections")
    p.add_argument(
        "--to",
        choices=["milvus", "faiss"],
        help="copy the built index into the other store, re-using its stored vectors (nothing is embedded): "
        "milvus = index/ into RAG_MILVUS_URI / RAG_MILVUS_COLLECTION; faiss = back into the index folder",
    )
    p.add_argument(
        "--ocr",
        action="store_true",
        default=None,
        help="read PDF pages without a text layer (scans) by OCR; seconds per page (or RAG_OCR=1)",
    )
    p.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="when another rag index is building the same folder, wait this long for it (default 30 min; 0: give up)",
    )
    p = sub.add_parser("ask", help="answer questions with numbered citations")
    common(p)
    p.add_argument("question", nargs="*")
    p.add_argument(
        "--questions",
        help="file with one question per line (split on newlines only; blank lines skipped), or JSON lines "
        'with a "question" field; - for stdin. A bad line gives an error in its place; the rest go on',
    )
    p.add_argument(
        "--json", action="store_true", help='one JSON line per question, in order: the answer or {"question", "error"}'
    )
    p.add_argument("--k", type=int, help="passages to retrieve (default 5)")
    p.add_argument("--no-bm25", action="store_true")
    p.add_argument("--no-dense", action="store_true")
    p.add_argument(
        "--llm",
        choices=["extractive", "openai", "llamacpp"],
        help="answer back-end (default RAG_LLM or extractive); openai reads RAG_LLM_BASE_URL/MODEL/API_KEY",
    )
    p = sub.add_parser("export", help="the indexed papers' references: GB/T 7714-2025/2015, BibTeX, RIS, CSL-JSON")
    common(p)
    p.add_argument(
        "--format", default="gbt7714-2025", choices=["gbt7714-2025", "gbt7714-2015", "bibtex", "ris", "csl-json"]
    )
    p.add_argument("--doc", action="append", metavar="DOC_ID", help="only this paper (repeatable)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p = sub.add_parser("demo", help="build what is missing and answer a sample question")
    common(p)
    p.add_argument("question", nargs="?", default=SAMPLE_QUESTION)
    for name in sorted(plugin_commands()):
        about = PLUGIN_HELP.get(name, "a command another package registered")
        sub.add_parser(name, help=f"{about} (`rag {name} --help`)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] and argv[0] in plugin_commands():
        args, rest = parser.parse_known_args(argv[:1])[0], argv[1:]
    else:
        args, rest = parser.parse_args(argv), []
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Progress lines of long work (a build piped to a file): the library logs them at INFO.
    logging.getLogger("rag.progress").setLevel(min(level, logging.INFO))
    start = time.perf_counter()
    try:
        handlers = {"models": cmd_models, "index": cmd_index, "ask": cmd_ask, "demo": cmd_demo, "export": cmd_export}
        if args.command not in handlers:
            return run_plugin(args.command, rest)
        return handlers[args.command](args)
    except rag.RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rag export | head`: the reader has what it wanted
        sys.stderr.close()
        return 0
    finally:
        logger.info("done in %.2f s", time.perf_counter() - start)


if __name__ == "__main__":
    raise SystemExit(main())
