"""The LangChain edge: the retriever as a BaseRetriever returning Documents with the chunk
metadata, and the answer step as a Runnable chain. LangChain types stay in this module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pipeline import Assistant


def answer_chain(assistant: Assistant) -> Any:
    """A Runnable: {"question", "k"?, "use_dense"?, "use_bm25"?, "doc_ids"?} -> rag.Answer."""
    from langchain_core.runnables import RunnableLambda

    return RunnableLambda(assistant._answer, name="rag_extractive_answer")


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
