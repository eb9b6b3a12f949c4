"""`rag models | index | ask | eval | serve`: main(argv) -> exit code. Uses only the front door."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import rag

SAMPLE_QUESTION = "中国已成为多少个国家和地区的主要贸易伙伴？"


def _settings(args: argparse.Namespace) -> rag.Settings:
    return rag.Settings.load(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index", None),
        k=getattr(args, "k", None),
        use_bm25=False if getattr(args, "no_bm25", False) else None,
        use_dense=False if getattr(args, "no_dense", False) else None,
    )


def cmd_models(args: argparse.Namespace) -> int:
    settings = rag.Settings.load()
    path = rag.provision_e5(
        Path(args.dest) if args.dest else settings.models_dir / "multilingual-e5-small", force=args.force
    )
    print(f"embedder ready: {path}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _ensure_models(settings)
    # Skipped files and copies were each warned about once, as they were met (logging, stderr).
    report = rag.build_index(settings, rebuild=args.rebuild, wait=args.wait)
    print(report.summary())
    return 0


def _ensure_models(settings: rag.Settings) -> None:
    if (
        settings.embedder == "e5-small"
        and not (settings.models_dir / "multilingual-e5-small" / "provenance.json").exists()
    ):
        print("provisioning the offline embedder (once) ...", file=sys.stderr)
        rag.provision_e5(settings.models_dir / "multilingual-e5-small")


def _read_questions(path: str) -> list[str]:
    out = []
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                out.append(str(json.loads(line)["question"]))
            except (json.JSONDecodeError, KeyError) as exc:
                raise rag.RagError(f'{path}: a JSON line needs a "question" field ({exc}): {line[:80]}') from exc
        else:
            out.append(line)
    return out


def cmd_ask(args: argparse.Namespace) -> int:
    questions = list(args.question)
    if args.questions:
        questions += _read_questions(args.questions)
    if not questions:
        raise rag.BadQuestionError('No question given. Usage: rag ask "你的问题" (or --questions FILE).')
    assistant = rag.load(_settings(args))
    llm = rag.LLMSettings.load(backend=args.llm)
    status = 0
    for q in questions:
        try:
            answer = (
                assistant.ask(q) if llm.backend == "extractive" else rag.generate_answer(assistant, q, settings=llm)
            )
        except rag.BadQuestionError as exc:
            if not args.json:
                raise
            print(json.dumps({"question": q[:200], "error": str(exc)}, ensure_ascii=False))
            status = 1
            continue
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            print(format_answer(answer))
    return status


def format_answer(answer: rag.Answer) -> str:
    lines = [answer.answer, ""]
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
    _ensure_models(settings)
    if not (settings.index_dir / "manifest.json").exists():
        print(f"building the index from {settings.corpus_dir}/ ...", file=sys.stderr)
        print(rag.build_index(settings).summary(), file=sys.stderr)
    assistant = rag.load(settings)
    print(f"Q: {args.question}\n")
    print(format_answer(assistant.ask(args.question)))
    return 0


def cmd_eval(args: argparse.Namespace, rest: list[str]) -> int:
    try:
        from eval.harness import main as eval_main
    except ImportError as exc:
        raise rag.RagError(f"The eval harness is not importable ({exc}); run from the project folder.") from exc
    return int(eval_main(rest))


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from ui.app import serve
    except ImportError as exc:
        raise rag.RagError(f"The chat UI is not importable ({exc}); run `make setup`.") from exc
    settings = _settings(args)
    _ensure_models(settings)
    return int(serve(settings, host=args.host, port=args.port) or 0)


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
        "--wait",
        type=float,
        metavar="SECONDS",
        help="when another rag index is building the same folder, wait this long for it (default 30 min; 0: give up)",
    )
    p = sub.add_parser("ask", help="answer questions with numbered citations")
    common(p)
    p.add_argument("question", nargs="*")
    p.add_argument(
        "--questions", help="file with one question per line, or JSON lines with a question field; - for stdin"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per question per line")
    p.add_argument("--k", type=int, help="passages to retrieve (default 5)")
    p.add_argument("--no-bm25", action="store_true")
    p.add_argument("--no-dense", action="store_true")
    p.add_argument(
        "--llm",
        choices=["extractive", "openai", "llamacpp"],
        help="answer back-end (default RAG_LLM or extractive); openai reads RAG_LLM_BASE_URL/MODEL/API_KEY",
    )
    p = sub.add_parser("demo", help="build what is missing and answer a sample question")
    common(p)
    p.add_argument("question", nargs="?", default=SAMPLE_QUESTION)
    p = sub.add_parser("serve", help="open the chat UI on localhost")
    common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    sub.add_parser("eval", help="run the eval harness (rag eval --help)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["eval"]:
        args, rest = parser.parse_known_args(argv[:1])[0], argv[1:]
    else:
        args, rest = parser.parse_args(argv), []
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Progress lines of long work (a build piped to a file): the library logs them at INFO.
    logging.getLogger("rag.progress").setLevel(min(level, logging.INFO))
    start = time.perf_counter()
    try:
        if args.command == "eval":
            return cmd_eval(args, rest)
        handlers = {"models": cmd_models, "index": cmd_index, "ask": cmd_ask, "demo": cmd_demo, "serve": cmd_serve}
        return handlers[args.command](args)
    except rag.RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        logging.getLogger(__name__).info("done in %.2f s", time.perf_counter() - start)


if __name__ == "__main__":
    raise SystemExit(main())
