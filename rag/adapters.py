"""LangChain adapters over the public Assistant, for those who compose LangChain chains: the
hybrid retriever as a BaseRetriever, and Assistant.ask as a Runnable. Nothing else in `rag`
imports LangChain for answering; LangChain types stay in this module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pipeline import Assistant


def as_runnable(assistant: Assistant) -> Any:
    """A Runnable: {"question", and any option of Assistant.ask} -> rag.Answer."""
    from langchain_core.runnables import RunnableLambda

    def run(request: dict[str, Any]) -> Any:
        options = dict(request)
        return assistant.ask(options.pop("question"), **options)

    return RunnableLambda(run, name="rag_answer")


def as_langchain_retriever(assistant: Assistant, k: int | None = None) -> Any:
    """The hybrid retriever as a LangChain BaseRetriever (composes with any LangChain chain)."""
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    class RagRetriever(BaseRetriever):
        top_k: int = k or assistant.settings.k

        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
            hits = assistant.retrieve(query, self.top_k)
            return [
                Document(
                    page_content=h.chunk.text,
                    metadata={
                        "key": h.chunk.key,
                        "doc_id": h.chunk.doc_id,
                        "title": assistant.data.papers[h.chunk.doc_id].title,
                        "section": h.chunk.section,
                        "page": h.chunk.page,
                        "page_end": h.chunk.page_end,
                        "start": h.chunk.start,
                        "end": h.chunk.end,
                        "lang": h.chunk.lang,
                        "score": h.score,
                        "rank": h.rank,
                    },
                )
                for h in hits
            ]

    return RagRetriever()
