"""The chat's generated mode, driven through its event handler against a local server that
speaks the OpenAI chat-completions protocol: the draft streams in, then the verified answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import rag
from ui import app

QUESTION = "中国已成为多少个国家和地区的主要贸易伙伴？"


class _Stub(BaseHTTPRequestHandler):
    reply = ""

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream" if body.get("stream") else "application/json")
        self.end_headers()
        base = {"id": "x", "created": 0, "model": body["model"]}
        if not body.get("stream"):
            msg = {"role": "assistant", "content": self.reply}
            payload = {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
            }
            self.wfile.write(json.dumps(payload).encode())
            return
        for i in range(0, len(self.reply), 6):
            delta = {"content": self.reply[i : i + 6]}
            chunk = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("RAG_LLM", "openai")
    monkeypatch.setenv("RAG_LLM_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("RAG_LLM_MODEL", "stub")
    yield server
    server.shutdown()
    server.server_close()


def test_generated_mode_streams_a_draft_then_shows_the_verified_answer(
    stub: ThreadingHTTPServer, assistant: rag.Assistant
) -> None:
    assert app.answer_modes() == ["extractive", "generated"]
    passage = next(p for p in assistant.ask(QUESTION, mode="extractive").passages if "150 多个国家和地区" in p.text)
    _Stub.reply = f"我国已经成为 150 多个国家和地区的主要贸易伙伴。[{passage.n}]我国是 160 个国家的伙伴。[{passage.n}]"
    handlers = app._Handlers(app._resolve(assistant))
    shown, updates = [], []
    for update in handlers.respond(QUESTION, [], [], 5, "generated", []):
        updates.append(update)
        if isinstance(update[1], list):
            shown.append(update[1][-1]["content"])  # what the chat shows at this moment
    drafts = [content for content in shown if "rag-draft" in content]
    assert len(drafts) >= 2  # the draft grew token by token
    final_chat, turns = updates[-1][1], updates[-1][2]
    answer = turns[-1]["answer"]
    assert answer["mode"] == "openai" and "150 多个国家和地区" in answer["answer"]
    verdicts = [s["supported"] for s in answer["sentences"]]
    assert verdicts == [True, False]  # the invented "160" is caught and shown as unsupported
    assert "⚠" in final_chat[-1]["content"]
