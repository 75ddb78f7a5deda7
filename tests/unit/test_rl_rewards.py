"""Reward sources of the policy stage: rule, format, the LLM judge, the remote RM client, and ``combine``."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from tests.local_server import LocalJSONServer
from wrl_lightning.data.records import Requirement
from wrl_lightning.generation.base import Generator
from wrl_lightning.rl.prompts import RLPrompt, load_rl_prompts
from wrl_lightning.rl.rewards import (
    FormatReward,
    JudgeBinaryReward,
    RemoteRMError,
    RemoteRMReward,
    RuleReward,
    combine,
)


@pytest.fixture(scope="module")
def builtin():
    return {p.id: p for p in load_rl_prompts(None, "builtin")}


# ------------------------------------------------------------------------------------------ rule / format
def test_rule_reward_is_the_fraction_of_kept_checks(builtin):
    bedtime, fable = builtin["builtin-03"], builtin["builtin-02"]  # 3 and 4 verifiable requirements
    gentle = "the cloud drifted.\n\nit heard a rumble.\n\nits mother hummed.\n\nit slept."
    shouty = "The SCARY monster roared."  # one paragraph, not lowercase, forbidden words: keeps none
    # only the forbidden word is wrong
    half = "the scary cloud drifted.\n\nit heard a rumble.\n\nits mother hummed.\n\nit slept."
    short_fable = "Once upon a time a tortoise waited. The crow did not."  # too short; the other three kept
    no_checker = RLPrompt("soft", "Write vividly.", [Requirement("Write vividly.", "style")])
    rewards = RuleReward()(
        [bedtime, bedtime, bedtime, fable, no_checker], [gentle, shouty, half, short_fable, "x"]
    )
    assert rewards[:4] == pytest.approx([1.0, 0.0, 2 / 3, 3 / 4])
    assert math.isnan(rewards[4])


def test_format_reward():
    prompts = [RLPrompt(str(i), "p", []) for i in range(4)]
    completions = [
        "<think>hm</think>\n<answer>yes</answer>",
        "<answer>yes</answer>",
        "plain",
        " <think></think><answer></answer> ",
    ]
    assert FormatReward()(prompts, completions) == [1.0, 0.0, 0.0, 1.0]


def test_combine_weights_and_skips_nan():
    parts = {"rule": [1.0, math.nan, 0.5, math.nan], "format": [1.0, 0.0, math.nan, math.nan]}
    total = combine(parts, {"rule": 2.0, "format": 0.5})
    assert total[:3].tolist() == pytest.approx([2.5, 0.0, 1.0])
    assert math.isnan(total[3].item())


def test_rule_and_format_combine_on_builtin_prompts(builtin):
    bedtime = builtin["builtin-03"]  # >= 4 paragraphs, all lowercase, no "scary"/"monster"
    gentle = "the cloud drifted.\n\nit heard a rumble.\n\nits mother hummed.\n\nit slept."
    completions = [
        f"<think>soft</think>\n<answer>{gentle}</answer>",
        gentle,
        "<think>x</think><answer>a scary cloud.</answer>",
    ]
    parts = {
        "rule": RuleReward()([bedtime] * 3, completions),
        "format": FormatReward()([bedtime] * 3, completions),
    }
    # The rule checks the whole output: "it slept.</answer>" does not end a sentence: only 3 paragraphs count.
    assert parts["rule"] == pytest.approx([2 / 3, 1.0, 1 / 3]) and parts["format"] == [1.0, 0.0, 1.0]
    assert combine(parts, {"rule": 1.0, "format": 0.5}).tolist() == pytest.approx(
        [2 / 3 + 0.5, 1.0, 1 / 3 + 0.5]
    )


# ------------------------------------------------------------------------------------------------ judge
class MarkerJudge(Generator):
    """Answers [[1]] when the response holds ``ok[<requirement>]``, [[0]] when not, and garbage when the
    response holds ``garble``; records the questions."""

    def __init__(self, model: str = "stub", device: str = "auto"):
        self.model, self.device, self.questions = model, device, []

    def generate(self, requests):
        answers = []
        for request in requests:
            self.questions.append(request.prompt)
            response, rest = request.prompt.split("[Response]\n", 1)[1].split("\n[Requirement]\n", 1)
            requirement = rest.split("\n", 1)[0]
            answers.append(
                "no idea"
                if "garble" in response
                else "[[1]]"
                if f"ok[{requirement}]" in response
                else "[[0]]"
            )
        return answers


def _prompt(pid: str, *texts: str) -> RLPrompt:
    return RLPrompt(pid, f"Task {pid}. " + " ".join(texts), [Requirement(t) for t in texts])


def test_judge_binary_means_verdicts_and_counts_unparsed():
    three, two = _prompt("a", "Be brief.", "Use rhyme.", "Say hi."), _prompt("b", "Be brief.", "Say bye.")
    judge = MarkerJudge()
    reward = JudgeBinaryReward(judge)
    completions = [
        "ok[Be brief.] ok[Say hi.]",
        "garble ok[Be brief.]",
        "ok[Be brief.] ok[Use rhyme.] ok[Say hi.]",
    ]
    rewards = reward([three, two, three], completions)
    assert rewards == pytest.approx([2 / 3, 0.0, 1.0])  # garbage answers count 0
    assert len(judge.questions) == 8
    assert reward.stats == {"n_questions": 8, "n_unparsed": 2, "unparsed_rate": 0.25}
    assert "[Response]\ngarble ok[Be brief.]\n[Requirement]\nSay bye.\n" in judge.questions[4]


def test_judge_binary_answer_only_and_dedup():
    prompt = _prompt("a", "Be brief.", "Say hi.")
    reward = JudgeBinaryReward(MarkerJudge(), answer_only=True)
    completions = [
        "<think>ok[Say hi.]</think><answer>ok[Be brief.]</answer>",
        "ok[Be brief.] ok[Say hi.]",
        "<think>x</think><answer>ok[Be brief.]</answer>",
    ]
    assert reward([prompt] * 3, completions) == [
        0.5,
        0.0,
        0.5,
    ]  # no form: 0, not asked; the same answer asked once
    assert reward.stats["n_questions"] == 2 and reward.generator.questions[0].count("ok[") == 1


def test_judge_binary_builds_its_generator_on_setup():
    reward = JudgeBinaryReward(
        functools.partial(MarkerJudge, device="auto"), model="judge-x", template="paper_zh"
    )
    reward.setup(torch.device("cpu"))
    assert isinstance(reward.generator, MarkerJudge)
    assert (reward.generator.model, reward.generator.device) == ("judge-x", "cpu")
    pinned = JudgeBinaryReward(functools.partial(MarkerJudge, device="cuda:3"), model="m")
    pinned.setup(torch.device("cpu"))
    assert pinned.generator.device == "cuda:3"  # an explicit device is kept


def test_judge_binary_config_runs_the_real_hf_generator(make_cfg, tmp_path, builtin):
    from wrl_lightning.stages.rl import build_rewards

    cfg = make_cfg(
        [
            "stage=rl",
            "+reward@rl.rewards.judge=judge_binary",
            "rl.rewards.judge.model=embedded:tiny-qwen2",
            "rl.rewards.judge.generator.max_new_tokens=4",
            "rl.rewards.judge.weight=0.5",
        ],
        tmp_path / "out",
    )
    sources, weights = build_rewards(cfg)
    judge = sources["judge"]
    assert isinstance(judge, JudgeBinaryReward) and weights["judge"] == 0.5
    judge.setup(torch.device("cpu"))
    prompts = [builtin["builtin-03"], builtin["builtin-02"]]
    # A random tiny model never answers [[1]]/[[0]]: every answer is unparsed and counts 0.
    assert judge(prompts, ["a story.", "a fable."]) == [0.0, 0.0]
    assert judge.stats == {"n_questions": 7, "n_unparsed": 7, "unparsed_rate": 1.0}


# ------------------------------------------------------------------------------------------- remote RM
class FakeRM(LocalJSONServer):
    """A local RM service: reward = the number of characters of the response (answer / query minus prompt);
    ``fail(hit)`` may return an error status for the ``hit``-th request."""

    def __init__(self, fail=None, key: str = "rewards"):
        super().__init__()
        self.fail, self.key = fail or (lambda hit: None), key
        self.bodies: list[dict] = []
        self.hits = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/reward"

    def answer(self, path: str, body: dict, headers: dict):
        with self.lock:
            self.hits += 1
            self.bodies.append(body)
            status = self.fail(self.hits) if path == "/reward" else 404
        if status:
            return status, {"error": f"boom {status}"}, {}
        if "question" in body:
            assert set(body) == {"question", "answer"} and len(body["question"]) == len(body["answer"])
            return 200, {self.key: [len(a) for a in body["answer"]]}, {}
        assert set(body) == {"query", "prompts", "labels"}
        assert all(q.startswith(p) for q, p in zip(body["query"], body["prompts"]))
        return 200, {self.key: [len(q) - len(p) for q, p in zip(body["query"], body["prompts"])]}, {}


SAMPLES = [(_prompt(str(i), f"Rule {i}."), "x" * (i + 1)) for i in range(5)]


@pytest.mark.parametrize("mode", ["openrlhf", "wrl"])
def test_remote_rm_batches_in_order(mode):
    prompts, completions = [s[0] for s in SAMPLES], [s[1] for s in SAMPLES]
    with FakeRM(key="scores" if mode == "openrlhf" else "rewards") as server:
        rewards = RemoteRMReward(server.url, mode=mode, batch_size=2)(prompts, completions)
    assert rewards == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [len(next(iter(b.values()))) for b in server.bodies] == [2, 2, 1]
    first = server.bodies[0]
    if mode == "wrl":
        assert first == {"question": [prompts[0].text, prompts[1].text], "answer": ["x", "xx"]}
    else:
        assert first == {
            "query": [prompts[0].text + "x", prompts[1].text + "xx"],
            "prompts": [prompts[0].text, prompts[1].text],
            "labels": [["Rule 0."], ["Rule 1."]],
        }


def test_remote_rm_retries_a_500_then_succeeds():
    with FakeRM(fail=lambda hit: 500 if hit == 1 else None) as server:
        reward = RemoteRMReward(server.url, batch_size=8, backoff_s=0.01, labels="id")
        assert reward([s[0] for s in SAMPLES[:2]], ["ab", "c"]) == [2.0, 1.0]
    assert server.hits == 2 and server.bodies[1]["labels"] == ["0", "1"]


def test_remote_rm_that_always_fails_names_url_and_answer():
    with FakeRM(fail=lambda hit: 503) as server:
        reward = RemoteRMReward(server.url, max_retries=2, backoff_s=0.01)
        with pytest.raises(
            RemoteRMError, match=r"127\.0\.0\.1.*/reward: HTTP 503: .*boom 503.*after 3 attempts"
        ):
            reward([SAMPLES[0][0]], ["x"])
    assert server.hits == 3
    with FakeRM(fail=lambda hit: 400) as server:  # a client error is not retried
        with pytest.raises(RemoteRMError, match="answered HTTP 400"):
            RemoteRMReward(server.url, backoff_s=0.01)([SAMPLES[0][0]], ["x"])
    assert server.hits == 1


def test_remote_rm_unreachable_and_bad_answers():
    with FakeRM() as server:
        url = server.url
    with pytest.raises(RemoteRMError, match=rf"{url}: URLError.*after 2 attempts"):
        RemoteRMReward(url, max_retries=1, backoff_s=0.01, timeout_s=2)([SAMPLES[0][0]], ["x"])
    reward = RemoteRMReward("http://127.0.0.1:1/reward")
    with pytest.raises(RemoteRMError, match="sent 2 samples, got 1 rewards"):
        reward._rewards({"rewards": [1.0]}, 2)
    with pytest.raises(RemoteRMError, match=r'expected \{"rewards"'):
        reward._rewards({"reward": 1.0}, 1)
    assert math.isnan(reward._rewards({"rewards": [None, 0.5]}, 2)[0])


def test_remote_rm_config(make_cfg, tmp_path):
    from wrl_lightning.stages.rl import build_rewards

    with FakeRM() as server:
        cfg = make_cfg(
            [
                "stage=rl",
                "+reward@rl.rewards.remote=remote_rm",
                f"rl.rewards.remote.url={server.url}",
                "rl.rewards.remote.mode=wrl",
            ],
            tmp_path / "out",
        )
        sources, weights = build_rewards(cfg)
        assert sources["remote"]([s[0] for s in SAMPLES[:3]], ["a", "bb", "ccc"]) == [1.0, 2.0, 3.0]
    assert weights == {"rule": 1.0, "remote": 1.0} and sources["remote"].batch_size == 64
