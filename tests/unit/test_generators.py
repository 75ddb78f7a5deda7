"""Generators: hf (tiny random Qwen2; SmolLM2 in a slow test) and http (a fake OpenAI server on 127.0.0.1)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.local_server import LocalJSONServer
from wrl_lightning.errors import ConfigError
from wrl_lightning.generation.base import GenerationRequest
from wrl_lightning.generation.http import EndpointError, HTTPGenerator, ResponseCache


def requests_for(n: int, words: int = 3) -> list[GenerationRequest]:
    """``n`` requests of different lengths (request i repeats a phrase i+1 times)."""
    return [GenerationRequest(prompt=f"p{i} " + "write a story " * (words * (i + 1)), request_id=f"r{i}") for i in range(n)]


# ------------------------------------------------------------------------------------------------- hf
@pytest.fixture(scope="module")
def hf(tiny_model_dir):
    from wrl_lightning.generation.hf import HFGenerator

    return HFGenerator("embedded:tiny-qwen2", max_new_tokens=6, batch_size=3, temperature=1.0, seed=0)


def test_hf_batches_are_length_sorted_and_left_padded(hf, monkeypatch):
    seen: list[list[int]] = []
    original = hf._generate_batch

    def spy(input_ids, seeds):
        seen.append([len(ids) for ids in input_ids])
        return original(input_ids, seeds)

    monkeypatch.setattr(hf, "_generate_batch", spy)
    texts = hf.generate(requests_for(7))
    assert len(texts) == 7 and [len(batch) for batch in seen] == [3, 3, 1]
    lengths = [n for batch in seen for n in batch]
    assert lengths == sorted(lengths, reverse=True)
    assert hf.tokenizer.padding_side == "left"


def test_hf_order_and_seeds_do_not_depend_on_batching(hf):
    requests = requests_for(5)
    batched = hf.generate(requests)
    assert hf.generate(list(reversed(requests)))[::-1] == batched
    assert [hf.generate([request])[0] for request in requests] == batched
    assert len(set(batched)) > 1


def test_hf_seeds_are_per_request(hf):
    request = requests_for(1)[0]
    seeded = [GenerationRequest(request.prompt, request.request_id, seed=s) for s in (1, 1, 2, 3, 4)]
    texts = hf.generate(seeded)
    assert texts[0] == texts[1] and len(set(texts[1:])) > 1


def test_hf_greedy_is_deterministic(hf, monkeypatch):
    monkeypatch.setattr(hf, "temperature", 0.0)
    requests = requests_for(3)
    assert hf.generate(requests) == hf.generate(requests)


def test_hf_rejects_bad_options(tiny_model_dir):
    from wrl_lightning.generation.hf import HFGenerator

    with pytest.raises(ConfigError, match="generator.batch_size"):
        HFGenerator("embedded:tiny-qwen2", batch_size=0)
    with pytest.raises(ConfigError, match="generator.top_p"):
        HFGenerator("embedded:tiny-qwen2", top_p=0)


def test_hf_dtype_follows_device():
    import torch

    from wrl_lightning.generation.hf import pick_dtype

    assert pick_dtype("auto", "cpu") == torch.float32 and pick_dtype("auto", "cuda") == torch.bfloat16
    assert pick_dtype("bf16", "cpu") == torch.bfloat16
    with pytest.raises(ConfigError, match="generator.dtype"):
        pick_dtype("int3", "cpu")


@pytest.fixture
def one_thread():
    """One torch thread: on a busy 2-core machine, OpenMP spinning makes two threads several times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_smollm2_converts_and_writes_sensible_text(one_thread):
    from wrl_lightning.generation.hf import HFGenerator
    from wrl_lightning.models.loading import resolve_model_path

    folder = resolve_model_path("embedded:smollm2")
    config = json.loads((Path(folder) / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    generator = HFGenerator("embedded:smollm2", max_new_tokens=24, temperature=0.0)
    answer, story = generator.generate([
        GenerationRequest("What is the capital of France? Answer with the city name only.", "capital"),
        GenerationRequest("Write one sentence about a cat.", "cat"),
    ])
    assert "Paris" in answer
    assert "cat" in story.lower() and len(story.split()) >= 5


# ----------------------------------------------------------------------------------------------- http
class FakeOpenAI(LocalJSONServer):
    """A local chat-completions server: echoes the prompt; ``fail(prompt, hit)`` may return an error status."""

    def __init__(self, delay: float = 0.0, fail=None):
        super().__init__()
        self.delay, self.fail = delay, fail or (lambda prompt, hit: None)
        self.hits: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = self.max_in_flight = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answer(self, path: str, body: dict, headers: dict):
        prompt = body["messages"][-1]["content"]
        with self.lock:
            self.hits[prompt] += 1
            self.bodies.append(body)
            self.headers.append(headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            hit = self.hits[prompt]
        time.sleep(self.delay)
        status = self.fail(prompt, hit) if path == "/v1/chat/completions" else 404
        with self.lock:
            self.in_flight -= 1
            if status is None:
                self.answered[prompt] += 1
        payload = {"error": "nope"} if status else {"choices": [{"message": {"content": f"echo: {prompt}"}}]}
        return status or 200, payload, {"Retry-After": "0"} if status == 429 else {}


def http_generator(server: FakeOpenAI, **options) -> HTTPGenerator:
    defaults = {"model": "fake", "base_url": server.base_url, "backoff_s": 0.01, "timeout_s": 10, "max_retries": 3}
    return HTTPGenerator(**{**defaults, **options})


def test_http_answers_in_order_concurrently():
    with FakeOpenAI(delay=0.1) as server:
        requests = requests_for(8, words=1)
        texts = http_generator(server, concurrency=4).generate(requests)
    assert texts == [f"echo: {r.prompt}" for r in requests]
    assert 2 <= server.max_in_flight <= 4 and sum(server.hits.values()) == 8
    body = server.bodies[0]
    assert body["model"] == "fake" and body["max_tokens"] == 512 and isinstance(body["seed"], int)


def test_http_retries_500_and_429():
    failures = {1: 500, 2: 429}
    with FakeOpenAI(fail=lambda prompt, hit: failures.get(hit)) as server:
        texts = http_generator(server, concurrency=2).generate(requests_for(3, words=1))
    assert all(text.startswith("echo: ") for text in texts)
    assert set(server.hits.values()) == {3} and set(server.answered.values()) == {1}


def test_http_gives_up_on_client_errors_and_dead_endpoints(tmp_path):
    with FakeOpenAI(fail=lambda prompt, hit: 400) as server:
        with pytest.raises(EndpointError, match="answered 400"):
            http_generator(server).generate(requests_for(1))
        assert sum(server.hits.values()) == 1
        port = server.port
    dead = HTTPGenerator("fake", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_s=0.01, timeout_s=2)
    with pytest.raises(EndpointError, match="after 2 attempts"):
        dead.generate(requests_for(1))


def test_http_sends_the_api_key_from_its_env_var(monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sekret")
    with FakeOpenAI() as server:
        http_generator(server, api_key_env="FAKE_KEY").generate(requests_for(1))
    assert server.headers[0]["Authorization"] == "Bearer sekret"


def test_http_resumes_without_repeating_finished_requests(tmp_path):
    cache = tmp_path / "cache.jsonl"
    requests = requests_for(6, words=1)
    broken = requests[3].prompt
    with FakeOpenAI(fail=lambda prompt, hit: 400 if prompt == broken else None) as server:
        with pytest.raises(EndpointError, match="'r3'"):
            http_generator(server, cache_path=str(cache), concurrency=1).generate(requests)
        first = Counter(server.answered)
    assert {r.prompt for r in requests[:3]} <= set(first) and broken not in first  # one queued request may finish too
    assert len(cache.read_text().splitlines()) == len(first)  # every finished answer is on disk
    with cache.open("a") as handle:  # a line cut short by a crash
        handle.write('{"request_id": "r4", "finger')
    with FakeOpenAI() as server:
        texts = http_generator(server, cache_path=str(cache), concurrency=2).generate(requests)
        second = Counter(server.answered)
    assert texts == [f"echo: {r.prompt}" for r in requests]
    assert first + second == Counter(r.prompt for r in requests)  # every request answered exactly once
    with FakeOpenAI() as server:
        assert http_generator(server, cache_path=str(cache)).generate(requests) == texts
        assert not server.hits
        changed = http_generator(server, cache_path=str(cache), temperature=0.1).generate(requests[:1])
        assert changed == texts[:1] and sum(server.hits.values()) == 1  # another request: not served from cache


def test_response_cache_survives_reload(tmp_path):
    cache = ResponseCache(tmp_path / "c.jsonl")
    cache.put("a", "f1", "text a")
    assert ResponseCache(tmp_path / "c.jsonl").get("a", "f1") == "text a"
    assert ResponseCache(tmp_path / "c.jsonl").get("a", "f2") is None
