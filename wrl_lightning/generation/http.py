"""Generator for any OpenAI-compatible chat endpoint (``POST {base_url}/chat/completions``), e.g. a vLLM server.

Requests run on a thread pool; connection errors, timeouts, 429 and 5xx are retried with exponential backoff
(honouring ``Retry-After``). Every finished response is appended (and flushed) to a JSONL cache keyed by
``request_id`` plus a fingerprint of the exact request, so a crash loses nothing already generated and a rerun
sends only the requests not answered yet. Standard library only.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from wrl_lightning.errors import ConfigError, WrlError
from wrl_lightning.generation.base import GenerationRequest, Generator
from wrl_lightning.generation.hf import request_seed

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class EndpointError(WrlError):
    """The endpoint refused a request or stayed unreachable after every retry."""


class ResponseCache:
    """Append-only JSONL of finished responses: ``{request_id, fingerprint, text}`` per line."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path).expanduser() if path else None
        self.entries: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        if self.path and self.path.exists():
            self._load()

    def _load(self) -> None:
        with self.path.open("rb+") as handle:  # end a line cut short by a crash so the next append starts clean
            size = handle.seek(0, os.SEEK_END)
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    row = json.loads(line)
                    self.entries[(row["request_id"], row["fingerprint"])] = row["text"]
                except (json.JSONDecodeError, KeyError, TypeError):  # a line cut short by a crash
                    log.warning("%s:%d: skipping an unreadable cache line", self.path, number)
        log.info("%s: %d cached responses", self.path, len(self.entries))

    def get(self, request_id: str, fingerprint: str) -> str | None:
        return self.entries.get((request_id, fingerprint))

    def put(self, request_id: str, fingerprint: str, text: str) -> None:
        """Record a finished response and make it durable before returning."""
        line = json.dumps({"request_id": request_id, "fingerprint": fingerprint, "text": text}, ensure_ascii=False)
        with self._lock:
            self.entries[(request_id, fingerprint)] = text
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())


class HTTPGenerator(Generator):
    """Answer requests through an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str | None = "OPENAI_API_KEY",
        max_tokens: int = 512,
        temperature: float = 0.7,
        top_p: float = 0.95,
        seed: int = 0,
        send_seed: bool = True,
        system_prompt: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        backoff_max_s: float = 60.0,
        cache_path: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not model:
            raise ConfigError("generator.model", "missing; name the model the endpoint serves")
        if concurrency < 1:
            raise ConfigError("generator.concurrency", f"must be at least 1, got {concurrency}")
        if max_retries < 0:
            raise ConfigError("generator.max_retries", f"must be >= 0, got {max_retries}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.max_tokens, self.temperature, self.top_p = model, max_tokens, temperature, top_p
        self.seed, self.send_seed, self.system_prompt = seed, send_seed, system_prompt
        self.concurrency, self.timeout_s = concurrency, timeout_s
        self.max_retries, self.backoff_s, self.backoff_max_s = max_retries, backoff_s, backoff_max_s
        self.extra_body = dict(extra_body or {})
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        self.cache = ResponseCache(cache_path)

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body sent for ``request``."""
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        messages.append({"role": "user", "content": request.prompt})
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }
        if self.send_seed:
            body["seed"] = request_seed(request, self.seed)
        return {**body, **self.extra_body}

    @staticmethod
    def fingerprint(body: dict[str, Any]) -> str:
        """A short hash of the exact request: a cached response is reused only for the same request."""
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        """One response per request, in request order; cached responses are not requested again."""
        bodies = [self.body(request) for request in requests]
        prints = [self.fingerprint(body) for body in bodies]
        texts = [self.cache.get(r.request_id, p) for r, p in zip(requests, prints, strict=True)]
        pending = [i for i, text in enumerate(texts) if text is None]
        log.info("%d requests: %d cached, %d to send to %s", len(requests), len(requests) - len(pending), len(pending), self.url)
        if pending:
            self._send(requests, bodies, prints, pending, texts)
        return [text or "" for text in texts]

    def _send(self, requests, bodies, prints, pending: list[int], texts: list[str | None]) -> None:
        """Send the pending requests concurrently; cache each answer as soon as it arrives.

        On a failure the queued requests are cancelled, those already in flight still finish (and are
        cached), then the first error is raised.
        """
        first_error: EndpointError | None = None
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self._complete, bodies[i]): i for i in pending}
            for future in as_completed(futures):
                index = futures[future]
                if future.cancelled():
                    continue
                error = future.exception()
                if error is None:
                    texts[index] = future.result()
                    self.cache.put(requests[index].request_id, prints[index], texts[index])
                elif first_error is None:
                    first_error = EndpointError(f"request {requests[index].request_id!r}: {error}")
                    for other in futures:
                        other.cancel()
        if first_error is not None:
            raise first_error

    def _complete(self, body: dict[str, Any]) -> str:
        """POST one body, retrying transient failures; returns the first choice's message content."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return parse_completion(json.loads(response.read()))
            except urllib.error.HTTPError as err:
                detail = err.read().decode(errors="replace")[:300]
                if err.code not in RETRY_STATUSES:
                    raise EndpointError(f"{self.url} answered {err.code}: {detail}") from None
                problem = f"HTTP {err.code}"
                retry_after = _seconds(err.headers.get("Retry-After"))
            except (OSError, http.client.HTTPException) as err:  # refused, reset, timed out, cut short
                problem = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            if attempt >= self.max_retries:
                raise EndpointError(f"{self.url}: {problem} after {attempt + 1} attempts")
            delay = retry_after if retry_after is not None else min(self.backoff_max_s, self.backoff_s * 2**attempt)
            log.warning("%s: %s; retry %d/%d in %.1fs", self.url, problem, attempt + 1, self.max_retries, delay)
            time.sleep(delay)
            attempt += 1


def parse_completion(payload: Any) -> str:
    """The text of ``choices[0].message.content`` of a chat completion."""
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise EndpointError(f"unexpected response (no choices[0].message.content): {str(payload)[:300]}") from None
    return content if isinstance(content, str) else ""


def _seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (the HTTP-date form is ignored)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
