"""The naive LangChain-tutorial baseline: 1000/200 character splits of the raw corpus files,
the project's dense encoder, a flat FAISS inner-product index, the best passage as the answer."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import rag

logger = logging.getLogger(__name__)


class NaiveBaseline:
    """Answers like the tutorial: no cleaning, no BM25, no abstention, no sentence selection."""

    mode = "naive-langchain"

    def __init__(self, settings: rag.Settings, chunk_size: int = 1000, chunk_overlap: int = 200) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        self.passages: list[dict[str, Any]] = []
        for path in sorted(Path(settings.corpus_dir).glob("*.txt")):
            for i, text in enumerate(splitter.split_text(path.read_text(encoding="utf-8"))):
                self.passages.append({"doc_id": path.stem, "key": f"{path.stem}#{i}", "text": text})
        self.encoder = rag.dense_encoder(settings)
        self.index = _flat_ip_index(self.encoder.encode_passages([p["text"] for p in self.passages]))
        logger.info("naive baseline: %d passages from %s", len(self.passages), settings.corpus_dir)

    def retrieve(self, question: str, k: int) -> list[dict[str, Any]]:
        """Top-k passages as passage dicts (n = rank), best first."""
        scores, ids = self.index.search(self.encoder.encode_queries([question]), min(k, len(self.passages)))
        return [
            {
                **self.passages[i],
                "n": rank,
                "score": float(s),
                "sentence": "",
                "title": "",
                "section": None,
                "page": None,
                "doi": None,
            }
            for rank, (s, i) in enumerate(zip(scores[0], ids[0], strict=True), 1)
            if i >= 0
        ]

    def ask(self, question: str, k: int) -> dict[str, Any]:
        """An Answer.to_dict()-shaped dict whose answer is the best passage, cited as [1]."""
        t0 = time.perf_counter()
        passages = self.retrieve(question, k)
        ms = (time.perf_counter() - t0) * 1000
        best = passages[0]
        return {
            "question": question,
            "answer": f"{best['text']}[1]",
            "abstained": False,
            "language": "",
            "citations": [{**best, "n": 1, "sentence": best["text"]}],
            "passages": passages,
            "timings_ms": {"retrieve": ms, "answer": 0.0, "total": ms},
            "mode": self.mode,
            "standalone_question": None,
            "notes": [],
        }


def _flat_ip_index(vectors: Any) -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise rag.RagError("The naive baseline needs faiss: pip install faiss-cpu==1.15.1") from exc
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index
