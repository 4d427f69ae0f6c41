"""A minimal OpenAI-compatible server for tests: ``/v1/chat/completions`` and ``/v1/completions`` on 127.0.0.1.

Answers are computed from the request (the last message's label request, the seed), like a seeded model's; a
list of scripted failures (``fail``: status codes, with ``Retry-After``) is served before answers. It runs in a
thread of the test process on a free port and is shut down by the fixture.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail: list[int] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, **body})
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    status = server.fail.pop(0) if server.fail else 200
                if status != 200:
                    payload = json.dumps({"error": {"message": f"scripted {status}", "type": "test"}}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("retry-after-ms", "5")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                payload = json.dumps(answer(self.path, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def completion_text(prompt_text: str, seed: Any) -> str:
    label = prompt_text.split('label "')[1].split('"')[0] if 'label "' in prompt_text else "none"
    return f'Sure! "A {label} take number {seed}, written by the fake endpoint for the tests."'


def answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    if path.endswith("/chat/completions"):
        text = completion_text(body["messages"][-1]["content"], body.get("seed"))
        return {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"], "usage": usage,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}]}
    text = completion_text(body["prompt"], body.get("seed"))
    return {"id": "c", "object": "text_completion", "created": 0, "model": body["model"], "usage": usage,
            "choices": [{"index": 0, "finish_reason": "stop", "text": text, "logprobs": None}]}
