"""A stand-in for an OpenAI-compatible chat server (POST /v1/chat/completions, JSON and SSE
streaming) whose replies a test scripts: it speaks the real wire protocol, so langchain-openai
and the openai client run unchanged against it. Used where a real model's reply cannot be
chosen; tests/test_llama_server.py drives the same code against a real local server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = Callable[[list[dict]], str]


class StubOpenAI(ThreadingHTTPServer):
    """POST /v1/chat/completions -> the reply `respond(messages)` scripts; records requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.respond: Reply = lambda messages: ""
        self.status = 200  # an HTTP error status to answer with instead (e.g. 500)
        self.refuse_response_format = False  # answer 400 to a request with response_format, as some servers do
        self.delay = 0.0  # seconds to wait before answering (a slow server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: StubOpenAI

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        time.sleep(self.server.delay)
        if self.server.refuse_response_format and "response_format" in body:
            self._send_json({"error": {"message": "response_format is not supported"}}, 400)
            return
        if self.server.status != 200:
            self._send_json({"error": {"message": "internal error"}}, self.server.status)
            return
        text = self.server.respond(body["messages"])
        if body.get("stream"):
            self._stream(body["model"], text)
        else:
            self._send_json(_completion(body["model"], text))

    def _send_json(self, payload: dict, status: int = 200) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            self._event(_chunk(model, delta, None))
        self._event(_chunk(model, {}, "stop"))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, payload: dict) -> None:
        self.wfile.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")
        self.wfile.flush()


def _completion(model: str, text: str) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _chunk(model: str, delta: dict, finish: str | None) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


@contextmanager
def running() -> Iterator[StubOpenAI]:
    stub = StubOpenAI()
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.shutdown()
        stub.server_close()


def quote_number(messages: list[dict], *needles: str) -> int:
    """The number the prompt gives the quote that contains every needle (AssertionError if none)."""
    for line in messages[-1]["content"].splitlines():
        if line.startswith("[") and all(n in line for n in needles):
            return int(line[1 : line.index("]")])
    raise AssertionError(f"no quote with {needles} in the prompt")
