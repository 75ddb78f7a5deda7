"""``stage=serve`` end to end: the real CLI serving a tiny RM; both APIs under concurrent clients, malformed
requests, the project's ``remote_rm`` reward and an OpenRLHF-style client, all checked against the in-process RM."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, child_env
from wrl_lightning.data.records import Requirement
from wrl_lightning.errors import ConfigError
from wrl_lightning.rl.prompts import RLPrompt
from wrl_lightning.rl.rewards import (
    RemoteRMError,
    RemoteRMReward,
    RMPerRequirementReward,
    RMWholePromptReward,
)
from wrl_lightning.scoring.resident import ResidentRM
from wrl_lightning.utils.run import run_stage

TOLERANCE = 1e-5
END = "<|im_end|>"  # stripped from OpenRLHF queries by the server under test
STORY = "The lighthouse keeper counted ships until the fog swallowed the last lantern."
PROMPTS = [
    RLPrompt("p0", "Write a short story. Use a formal tone. Mention the sea.",
             [Requirement("Use a formal tone."), Requirement("Mention the sea.")]),
    RLPrompt("p1", "Describe a city at night in three sentences.", [Requirement("Use exactly three sentences.")]),
    RLPrompt("p2", "Write a poem. Rhyme every line. Avoid the word love. End with a question.",
             [Requirement("Rhyme every line."), Requirement("Avoid the word love."), Requirement("End with a question.")]),
]
COMPLETIONS = [STORY, "Lights hum. Trains sigh. Nobody sleeps.", "Stars align, rivers shine; will you be mine?",
               "", "A sea of words."]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, body) -> tuple[int, object]:
    """POST ``body`` (a JSON value, or raw bytes sent as they are); the status and decoded answer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class Service:
    """A ``python -m wrl_lightning stage=serve`` process in its own process group, and its log."""

    def __init__(self, model: Path, out: Path):
        self.port, self.log = free_port(), out / "server.log"
        out.mkdir(parents=True)
        self.base = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "wrl_lightning", "stage=serve", f"serve.model={model}", f"serve.port={self.port}",
                "serve.accelerator=cpu", "serve.max_batch_size=8", "serve.batch_timeout=0.2", f"serve.openrlhf_strip=[{END!r}]",
                "logger=none", "extras.print_config=false", f"paths.output_dir={out / 'run'}"]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(args, cwd=REPO, env=child_env(), stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        pytest.fail(f"the server did not answer /health within {seconds} s:\n{self.text()[-3000:]}")

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """SIGTERM, as a process manager would; every process of the group must be gone soon after."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            deadline = time.monotonic() + 15
            while self.group_alive() and time.monotonic() < deadline:
                time.sleep(0.2)
            left = self.group_alive()
            if left:
                os.killpg(self.process.pid, signal.SIGKILL)
        assert not left, f"processes of the server were left behind:\n{self.text()[-2000:]}"


@pytest.fixture(scope="module")
def rm_dir(saved_classifier) -> Path:
    return saved_classifier("embedded:tiny-qwen2")


@pytest.fixture(scope="module")
def rm(rm_dir) -> ResidentRM:
    """The in-process scorer the served rewards must equal (same defaults as the service on CPU)."""
    return ResidentRM.load(str(rm_dir), device="cpu")


@pytest.fixture(scope="module")
def service(rm_dir, tmp_path_factory):
    server = Service(rm_dir, tmp_path_factory.mktemp("serve") / "service")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ready(service, rm) -> Service:  # the in-process RM loads while the server starts
    service.wait_ready()
    return service


def means(rm: ResidentRM, responses: list[str], requirements: list[list[str]]) -> list[float]:
    """Per response: the mean in-process RM score over its requirements."""
    flat = [(r, q) for r, qs in zip(responses, requirements) for q in qs]
    scores = iter(rm.score_pairs([p[0] for p in flat], [p[1] for p in flat]))
    return [sum(next(scores) for _ in qs) / len(qs) for qs in requirements]


def test_cli_prints_both_urls(ready):
    text = ready.text()
    assert f"wrl: POST {ready.base}/predict" in text and f"openrlhf: POST {ready.base}/reward" in text


def test_concurrent_requests_to_both_apis_match_the_in_process_scorer(ready, rm):
    wrl, openrlhf = f"{ready.base}/predict", f"{ready.base}/reward"
    good, expected = [], []
    for prompt, completion in zip(PROMPTS * 2, COMPLETIONS):
        requirements = [r.text for r in prompt.requirements]
        good.append((wrl, {"question": prompt.text, "answer": completion}))
        expected.append(("value", means(rm, [completion], [[prompt.text]])))
        good.append((openrlhf, {"query": [prompt.text + completion + END, prompt.text + STORY],
                                "prompts": [prompt.text] * 2, "labels": [requirements, ""]}))
        expected.append(("rewards", means(rm, [completion, STORY], [requirements, [prompt.text]])))
    good.append((wrl, {"question": [p.text for p in PROMPTS], "answer": COMPLETIONS[:3]}))
    expected.append(("rewards", means(rm, COMPLETIONS[:3], [[p.text] for p in PROMPTS])))
    good.append((openrlhf, {"query": ["Q?" + STORY], "prompts": ["Q?"]}))  # no labels: the prompt is the constraint
    expected.append(("rewards", means(rm, [STORY], [["Q?"]])))

    bad = [  # (url, body, a text the error must contain)
        (wrl, b'{"question": "x", "answer": ', "JSON decode error"),
        (wrl, {"question": "Be brief."}, '"answer"'),
        (wrl, {"question": "Be brief.", "answer": 7}, '"answer"'),
        (wrl, {"question": [], "answer": []}, "at least 1 item"),
        (wrl, {"question": ["a", "b"], "answer": ["x"]}, "question has 2 items but answer has 1"),
        (wrl, {"question": "a", "answer": ["x"]}, "both be strings or both be lists"),
        (wrl, ["not", "an", "object"], "valid dictionary"),
        (openrlhf, {"query": [], "prompts": []}, '"query"'),
        (openrlhf, {"query": ["Px"]}, '"prompts"'),
        (openrlhf, {"query": ["Px"], "prompts": ["Q"], "labels": [["r"]]}, "query[0] does not start with prompts[0]"),
        (openrlhf, {"query": ["Px", "Py"], "prompts": ["P", "P"], "labels": [["r"], "p1"]}, "labels[1]"),
        (openrlhf, {"query": ["Px"], "prompts": ["P"], "labels": [[]]}, "labels[0]: empty list"),
        (openrlhf, {"query": ["Px"], "prompts": ["P"], "labels": [[3]]}, '"labels"'),
        (openrlhf, {"query": ["Px"], "prompts": ["P", "P"]}, "prompts has 2 items but query has 1"),
    ]
    calls = [(url, body) for url, body in good] + [(url, body) for url, body, _ in bad]
    order = list(range(len(calls)))
    random.Random(0).shuffle(order)  # good and bad interleaved
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        answers = dict(zip(order, pool.map(lambda i: post(*calls[i]), order)))

    for i, (key, values) in enumerate(expected):
        status, answer = answers[i]
        assert status == 200, (calls[i], answer)
        got = [answer[key]] if key == "value" else answer[key]
        assert got == pytest.approx(values, abs=TOLERANCE), calls[i]
        if key == "value":
            assert answer["pred"] == int(answer["value"] > 0.5) and set(answer) == {"value", "pred", "question", "answer"}
        elif calls[i][0] == openrlhf:
            assert answer["scores"] == answer["rewards"]
    for j, (_, _, message) in enumerate(bad):
        status, answer = answers[len(good) + j]
        assert status == 422 and message in json.dumps(answer), (bad[j][1], answer)

    # The server batched concurrent requests together (its worker logs every batch) and keeps serving.
    sizes = [int(n) for n in re.findall(r"scored batch: (\d+) requests", ready.text())]
    assert sum(sizes) >= len(good) and max(sizes) > 1, sizes
    print(f"batch sizes formed: {sizes}")
    assert post(wrl, {"question": "Be brief.", "answer": "Yes."})[0] == 200


def test_remote_rm_reward_gets_the_in_process_rewards(ready, rm_dir):
    prompts = [PROMPTS[i % 3] for i in range(len(COMPLETIONS))]
    per_requirement = RMPerRequirementReward(str(rm_dir))
    whole_prompt = RMWholePromptReward(str(rm_dir))
    for source in (per_requirement, whole_prompt):
        source.setup(torch.device("cpu"))
    remote = RemoteRMReward(f"{ready.base}/reward", mode="openrlhf", batch_size=2)
    assert remote(prompts, COMPLETIONS) == pytest.approx(per_requirement(prompts, COMPLETIONS), abs=TOLERANCE)
    remote_wrl = RemoteRMReward(f"{ready.base}/predict", mode="wrl", batch_size=3)
    assert remote_wrl(prompts, COMPLETIONS) == pytest.approx(whole_prompt(prompts, COMPLETIONS), abs=TOLERANCE)
    with pytest.raises(RemoteRMError, match=r"HTTP 422: .*labels\[0\]"):  # prompt ids cannot be looked up
        RemoteRMReward(f"{ready.base}/reward", labels="id", max_retries=0)(prompts[:1], COMPLETIONS[:1])


def openrlhf_remote_rm_fn(api_url: str, queries: list[str], prompts: list[str], labels: list, score_key="rewards"):
    """OpenRLHF's documented remote-RM call (``openrlhf/utils/remote_rm_utils.py``): POST query/prompts/labels,
    read ``score_key`` from the JSON answer, as a tensor."""
    data = json.dumps({"query": queries, "prompts": prompts, "labels": labels}).encode()
    request = urllib.request.Request(api_url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=180) as response:
        answer = json.loads(response.read())
    assert score_key in answer, f"{score_key} not in {answer}"
    return torch.tensor(answer[score_key])


def test_openrlhf_client_gets_per_requirement_means(ready, rm):
    chat = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
    prompts = [chat.format(p.text) for p in PROMPTS]
    responses = COMPLETIONS[:3]
    queries = [p + r + END for p, r in zip(prompts, responses)]  # decoded with special tokens, as OpenRLHF does
    labels = [[r.text for r in p.requirements] for p in PROMPTS]  # --label_key holding requirement lists
    rewards = openrlhf_remote_rm_fn(f"{ready.base}/reward", queries, prompts, labels)
    assert rewards.tolist() == pytest.approx(means(rm, responses, labels), abs=TOLERANCE)


@pytest.mark.parametrize(("override", "key"), [
    ("serve.host=10.1.2.3", "serve.host"),
    ("serve.port=80", "serve.port"),
    ("serve.paths.openrlhf=/predict", "serve.paths"),
    ("serve.paths.wrl=/health", "serve.paths.wrl"),
    ("serve.max_batch_size=0", "serve.max_batch_size"),
    ("serve.request_timeout=0.001", "serve.request_timeout"),
    ("serve.openrlhf_strip=x", "serve.openrlhf_strip"),
    ("serve.scorer.precision=fp8", "serve.scorer.precision"),
    ("serve.scorer.head=softmax", "serve.scorer.head"),
])
def test_bad_config_names_its_key(make_cfg, rm_dir, override, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        run_stage(make_cfg(["stage=serve", f"serve.model={rm_dir}", f"serve.port={free_port()}", "logger=none", override]))


def test_a_port_in_use_names_its_key(make_cfg, rm_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"serve.port: cannot listen on 127.0.0.1:{port}"):
            run_stage(make_cfg(["stage=serve", f"serve.model={rm_dir}", f"serve.port={port}", "logger=none"]))


def test_missing_model_names_its_key(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="serve.model"):
        run_stage(make_cfg(["stage=serve", f"serve.model={tmp_path / 'nope'}", "logger=none"]))
    with pytest.raises(ConfigError, match="serve.model"):
        run_stage(make_cfg(["stage=serve", "logger=none"]))
