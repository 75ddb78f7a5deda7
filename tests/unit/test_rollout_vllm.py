"""The ``vllm`` rollout backend's side of the contract with vLLM's offline engine, through a recording stand-in
for the ``vllm`` package (vLLM itself needs a CUDA GPU): the engine is built from the policy's folder, gets
every current policy parameter before each round, receives each prompt ``n`` times as token ids, and its
token outputs become the same :class:`Rollouts` the ``hf`` backend builds. A real ``stage=rl`` run checks
that the weights the engine samples from follow the training."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest
import torch

from wrl_lightning.errors import ConfigError
from wrl_lightning.models.chat import encode_prompt
from wrl_lightning.rl.rollout import HFRollout, build_rollout
from wrl_lightning.utils.run import run_stage


class RecordingLLM:
    """vLLM's ``LLM`` as the backend uses it: ``generate``, ``reset_prefix_cache`` and the colocated model's
    ``load_weights``. Even rows end with EOS after two tokens; odd rows run to ``max_tokens`` (token 9 in
    the first request, seeded random tokens after it, so that rewards differ within a group)."""

    instances: list[RecordingLLM] = []
    eos = 0

    def __init__(self, **options):
        self.options, self.requests, self.syncs, self.resets = options, [], [], 0
        model = SimpleNamespace(load_weights=self._load)
        self.llm_engine = SimpleNamespace(model_executor=SimpleNamespace(
            driver_worker=SimpleNamespace(model_runner=SimpleNamespace(model=model))))
        RecordingLLM.instances.append(self)

    def _load(self, weights):
        if not self.syncs or self.syncs[-1]["closed"]:
            self.syncs.append({"closed": False, "weights": {}})
        self.syncs[-1]["weights"].update({name: tensor.detach().clone() for name, tensor in weights})

    def reset_prefix_cache(self):
        self.resets += 1
        if self.syncs:
            self.syncs[-1]["closed"] = True

    def generate(self, prompts, sampling_params, use_tqdm):
        self.requests.append((prompts, sampling_params))
        budget, generator = sampling_params.options["max_tokens"], torch.Generator().manual_seed(len(self.requests))

        def tokens(count: int, fixed: int) -> list[int]:
            return torch.randint(10, 500, (count,), generator=generator).tolist() if len(self.requests) > 1 else [fixed] * count

        rows = [tokens(2, 7) + [self.eos] if i % 2 == 0 else tokens(budget, 9) for i in range(len(prompts))]
        return [SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids)]) for ids in rows]


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM = RecordingLLM
    module.SamplingParams = lambda **options: SimpleNamespace(options=options)
    monkeypatch.setitem(sys.modules, "vllm", module)
    RecordingLLM.instances = []
    return RecordingLLM


@pytest.fixture
def policy():
    from wrl_lightning.models.loading import load_causal_lm, load_tokenizer

    model, tokenizer = load_causal_lm("embedded:tiny-qwen2"), load_tokenizer("embedded:tiny-qwen2")
    RecordingLLM.eos = int(model.generation_config.eos_token_id if isinstance(model.generation_config.eos_token_id, int)
                           else model.generation_config.eos_token_id[0])
    return model, tokenizer


def test_missing_vllm_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(ConfigError, match=r"rollout.backend.*\.\[vllm\]"):
        build_rollout("vllm")


def test_engine_gets_policy_weights_and_prompt_ids_and_returns_hf_shaped_rollouts(fake_vllm, policy):
    model, tokenizer = policy
    backend = build_rollout("vllm", max_new_tokens=4, temperature=0.7, top_p=0.9)
    rollouts = backend.generate(model, tokenizer, ["Write a haiku.", "Describe the sea in one long sentence."], n=2)

    (engine,) = fake_vllm.instances
    assert engine.options["model"] == model.name_or_path
    assert engine.options["distributed_executor_backend"] == "external_launcher"
    assert engine.options["dtype"] == "float32"
    weights = engine.syncs[0]["weights"]
    assert weights.keys() == dict(model.named_parameters()).keys() and engine.resets == 1
    assert all(torch.equal(weights[name], param) for name, param in model.named_parameters())
    (prompts, params), = engine.requests
    assert params.options == {"n": 1, "temperature": 0.7, "top_p": 0.9, "max_tokens": 4}
    expected = [encode_prompt(tokenizer, text, None, True) for text in ("Write a haiku.", "Describe the sea in one long sentence.")]
    assert [p["prompt_token_ids"] for p in prompts] == [expected[0], expected[0], expected[1], expected[1]]

    batch = HFRollout().prompt_batch(model, tokenizer, ["Write a haiku.", "Describe the sea in one long sentence."], 2)
    assert rollouts.prompt_length == batch["input_ids"].shape[1]
    assert torch.equal(rollouts.input_ids[:, :rollouts.prompt_length], batch["input_ids"])
    assert rollouts.completion_mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]] * 2
    assert rollouts.truncated.tolist() == [False, True, False, True]
    assert rollouts.input_ids[0, -1] == tokenizer.pad_token_id  # the column past EOS is padding
    assert rollouts.texts[1] == tokenizer.decode([9] * 4, skip_special_tokens=True).strip()


def test_rl_stage_samples_from_the_weights_being_trained(fake_vllm, make_cfg, tmp_path):
    from transformers import AutoModelForCausalLM

    from tests.integration.test_rl_stage import QUICK

    metrics = run_stage(make_cfg([*QUICK, "rollout=vllm"], tmp_path / "run"))
    (engine,) = fake_vllm.instances
    assert len(engine.syncs) == len(engine.requests) >= 2 + metrics["rounds"]  # validation before/after + rounds
    first, last = engine.syncs[0]["weights"], engine.syncs[-1]["weights"]
    trained = AutoModelForCausalLM.from_pretrained(metrics["export_dir"])
    assert any(not torch.equal(first[name], last[name]) for name in first)
    assert all(torch.equal(last[name], param) for name, param in trained.named_parameters())
