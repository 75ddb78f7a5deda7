"""GRPO maths: group advantages, KL estimators, clipped loss + aggregations; and a peer oracle against TRL."""

from __future__ import annotations

import math

import pytest
import torch

from wrl_lightning.errors import ConfigError
from wrl_lightning.rl.advantages import frac_zero_std, group_advantages
from wrl_lightning.rl.kl import KL_ESTIMATORS, kl_penalty
from wrl_lightning.rl.losses import aggregate, logprobs_and_entropy, policy_loss

EPS = 1e-4


def close(actual, expected, atol=1e-6):
    torch.testing.assert_close(torch.as_tensor(actual).float(), torch.as_tensor(expected).float(), atol=atol, rtol=0)


# --- advantages ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["group", "batch", "none"])
def test_constant_group_gives_exactly_zero_advantage(mode):
    rewards = torch.tensor([0.7, 0.7, 0.7, 0.7, 1.0, 2.0, 3.0, 4.0])
    advantages = group_advantages(rewards, 4, mode)
    assert torch.equal(advantages[:4], torch.zeros(4))
    assert advantages[4:].abs().min() > 0


def test_two_groups_each_scale_mode():
    # group 1: mean 2, sample std 1; group 2: mean 2, sample std 2; batch: mean 2, sample std sqrt(10 / 5)
    rewards = torch.tensor([1.0, 2.0, 3.0, 0.0, 4.0, 2.0])
    centred = torch.tensor([-1.0, 0.0, 1.0, -2.0, 2.0, 0.0])
    close(group_advantages(rewards, 3, "none"), centred)
    close(group_advantages(rewards, 3, "batch"), centred / (math.sqrt(2.0) + EPS))
    expected = torch.tensor([-1 / (1 + EPS), 0.0, 1 / (1 + EPS), -2 / (2 + EPS), 2 / (2 + EPS), 0.0])
    close(group_advantages(rewards, 3, "group"), expected)
    close(group_advantages(rewards, 3), expected)  # group is the default
    assert frac_zero_std(rewards, 3) == 0.0


def test_nan_rewards_are_excluded_and_get_zero_advantage():
    rewards = torch.tensor([1.0, float("nan"), 3.0, 5.0, 5.0, 5.0, float("nan"), 2.0, float("nan")])
    advantages = group_advantages(rewards, 3, "group")
    assert not advantages.isnan().any()
    # group 1: valid [1, 3], mean 2, sample std sqrt(2); group 2 constant; group 3 one valid reward (std 0)
    s = math.sqrt(2.0) + EPS
    close(advantages, [-1 / s, 0.0, 1 / s, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    batch_std = torch.tensor([1.0, 3.0, 5.0, 5.0, 5.0, 2.0]).std().item()
    close(group_advantages(rewards, 3, "batch")[[0, 1, 2]], [-1 / (batch_std + EPS), 0.0, 1 / (batch_std + EPS)])
    close(frac_zero_std(rewards, 3), 2 / 3)  # the constant group and the one-valid-reward group
    assert torch.equal(group_advantages(torch.full((4,), float("nan")), 2), torch.zeros(4))


def test_advantage_errors():
    with pytest.raises(ConfigError, match="scale_rewards"):
        group_advantages(torch.zeros(4), 2, "median")
    with pytest.raises(ValueError, match="multiple of n=3"):
        group_advantages(torch.zeros(4), 3)


# --- KL estimators -------------------------------------------------------------------------------------------


def test_kl_known_values():
    logp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])  # d = ref - logp = [-0.5, 1]
    close(kl_penalty(logp, ref, "k1"), [0.5, -1.0])
    close(kl_penalty(logp, ref, "k2"), [0.125, 0.5])
    close(kl_penalty(logp, ref, "k3"), [math.exp(-0.5) - 0.5, math.e - 2.0])
    assert KL_ESTIMATORS["low_var_kl"] is KL_ESTIMATORS["k3"]
    with pytest.raises(ConfigError, match="kl_estimator"):
        kl_penalty(logp, ref, "k4")


def test_k3_nonnegative_zero_at_equality_with_zero_gradient():
    gen = torch.Generator().manual_seed(0)
    logp, ref = -3 * torch.rand(64, 16, generator=gen), -3 * torch.rand(64, 16, generator=gen)
    assert (kl_penalty(logp, ref, "k3") >= 0).all()
    assert (kl_penalty(logp, ref, "k2") >= 0).all()
    same = logp.clone().requires_grad_()
    kl = kl_penalty(same, logp, "k3")
    assert torch.equal(kl, torch.zeros_like(kl))
    kl.sum().backward()
    assert torch.equal(same.grad, torch.zeros_like(logp))


def test_kl_clamp_like_verl():
    logp, ref = torch.tensor([-100.0, -1.0]), torch.tensor([-1.0, -1.2])  # exp(99) overflows float32
    assert torch.isinf(kl_penalty(logp, ref, "k3")[0])
    clamped = kl_penalty(logp, ref, "k3", clamp=10.0)
    close(clamped, [10.0, math.exp(-0.2) + 0.2 - 1])


# --- policy loss ---------------------------------------------------------------------------------------------

# three sequences of 4, 2 and 1 tokens: the three aggregations differ
MASK = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
ADV = torch.tensor([1.0, -2.0, 4.0])


@pytest.mark.parametrize(
    ("mode", "kwargs", "expected"),
    [
        ("token_mean", {}, -(4 - 4 + 4) / 7),  # every token weighs the same
        ("seq_mean_token_mean", {}, -(1 - 2 + 4) / 3),  # every sequence weighs the same
        ("seq_mean_token_sum", {}, -(4 - 4 + 4) / 3),  # sequence sums, averaged
        ("seq_mean_token_sum", {"max_len": 4}, -(4 - 4 + 4) / 3 / 4),
        ("token_mean", {"num_tokens": 14}, -(4 - 4 + 4) / 14),  # a global token count (accumulation)
    ],
)
def test_on_policy_loss_is_minus_aggregated_advantage(mode, kwargs, expected):
    logp = -torch.rand(3, 4, generator=torch.Generator().manual_seed(1))
    loss, stats = policy_loss(logp, ADV, MASK.float(), logp.clone(), aggregation=mode, **kwargs)
    close(loss, expected)
    close(stats["ratio"], 1.0)
    assert stats["clip_frac"] == 0
    loss_none, _ = policy_loss(logp, ADV, MASK, None, aggregation=mode, **kwargs)  # None: on-policy
    close(loss_none, expected)


def test_aggregations_differ_on_uneven_lengths():
    values = torch.arange(12.0).view(3, 4)  # masked rows: [0, 1, 2, 3], [4, 5], [8]
    close(aggregate(values, MASK, "token_mean"), 23 / 7)
    close(aggregate(values, MASK, "seq_mean_token_mean"), (1.5 + 4.5 + 8) / 3)
    close(aggregate(values, MASK, "seq_mean_token_sum"), (6 + 9 + 8) / 3)
    with pytest.raises(ConfigError, match="loss_agg_mode"):
        aggregate(values, MASK, "seq_sum")


def test_clipping_activates_exactly_where_expected():
    # row 0 (A = +1): ratio 1.5 clipped high; 1.25 clipped only when clip_high = clip = 0.2; 0.5 is unclipped
    # (A > 0 takes the smaller unclipped branch); 3.0 is padding. Row 1 (A = -1): 0.5 clipped low, 1.5 unclipped.
    ratios = torch.tensor([[1.5, 1.25, 0.5, 3.0], [0.5, 1.5, 0.9, 1.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    old = -torch.ones(2, 4)
    logp = (old + ratios.log()).requires_grad_()
    loss, stats = policy_loss(logp, torch.tensor([1.0, -1.0]), mask, old, clip=0.2, clip_high=0.28)
    close(stats["clip_frac_high"], 1 / 7)
    close(stats["clip_frac_low"], 1 / 7)
    close(stats["clip_frac"], 2 / 7)
    close(stats["ratio"], (1.5 + 1.25 + 0.5 + 0.5 + 1.5 + 0.9 + 1.0) / 7)
    per_token = [-1.28, -1.25, -0.5, 0.8, 1.5, 0.9, 1.0]
    close(loss, sum(per_token) / 7)
    close(stats["pg_loss"], sum(per_token) / 7)
    loss.backward()
    clipped = torch.tensor([[1, 0, 0, 1], [1, 0, 0, 0]], dtype=torch.bool)  # clipped or padding: no gradient
    assert (logp.grad[clipped] == 0).all() and (logp.grad[~clipped] != 0).all()
    _, symmetric = policy_loss(logp.detach(), torch.tensor([1.0, -1.0]), mask, old, clip=0.2)
    close(symmetric["clip_frac_high"], 2 / 7)


def test_kl_and_entropy_terms():
    gen = torch.Generator().manual_seed(2)
    logp, ref = -torch.rand(3, 4, generator=gen), -torch.rand(3, 4, generator=gen)
    entropy = torch.rand(3, 4, generator=gen)
    kl = kl_penalty(logp, ref, "k3")
    loss, stats = policy_loss(
        logp, ADV, MASK, logp, ref_logp=ref, beta=0.1, entropy=entropy, entropy_coef=0.01,
        aggregation="seq_mean_token_mean",
    )  # fmt: skip
    expected = -1.0 + 0.1 * aggregate(kl, MASK, "seq_mean_token_mean") - 0.01 * aggregate(entropy, MASK)
    close(loss, expected)
    close(stats["kl"], aggregate(kl, MASK))
    close(stats["entropy"], aggregate(entropy, MASK))
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(logp, ADV, MASK, beta=0.1)


def test_logprobs_and_entropy():
    logits = torch.zeros(1, 2, 8)
    logp, entropy = logprobs_and_entropy(logits, torch.tensor([[3, 5]]), temperature=0.7)
    close(logp, torch.full((1, 2), -math.log(8)))
    close(entropy, torch.full((1, 2), math.log(8)))


# --- peer oracle: TRL's GRPOTrainer loss on the same batch ---------------------------------------------------

TEMPERATURE, BETA, EPSILON, EPSILON_HIGH, ENTROPY_COEF, MAX_COMPLETION = 0.7, 0.04, 0.2, 0.28, 0.01, 6


@pytest.fixture(scope="module")
def trl_trainer(tmp_path_factory):
    pytest.importorskip("trl")
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from wrl_lightning.models.loading import resolve_model_path

    def zero_reward(completions, **_):
        return [0.0] * len(completions)

    args = GRPOConfig(
        output_dir=str(tmp_path_factory.mktemp("trl")), report_to=[], use_cpu=True, bf16=False, fp16=False,
        per_device_train_batch_size=4, num_generations=2, max_completion_length=MAX_COMPLETION,
        temperature=TEMPERATURE, beta=BETA, epsilon=EPSILON, epsilon_high=EPSILON_HIGH, entropy_coef=ENTROPY_COEF,
        scale_rewards="group", importance_sampling_level="token", use_bias_correction_kl=False,
        mask_truncated_completions=False, top_entropy_quantile=1.0, off_policy_mask_threshold=None, delta=None,
        use_vllm=False, save_strategy="no",
    )  # fmt: skip
    dataset = Dataset.from_dict({"prompt": ["a", "b"]})
    trainer = GRPOTrainer(resolve_model_path("embedded:tiny-qwen2"), zero_reward, args=args, train_dataset=dataset)
    trainer.model.eval()  # "eval" mode: the loss is not divided by gradient-accumulation steps
    return trainer


def _oracle_batch(vocab_size):
    gen = torch.Generator().manual_seed(3)
    prompt_ids = torch.randint(10, vocab_size, (4, 3), generator=gen)
    prompt_mask = torch.tensor([[0, 1, 1], [1, 1, 1], [0, 0, 1], [1, 1, 1]])  # left-padded prompts
    completion_ids = torch.randint(10, vocab_size, (4, 5), generator=gen)
    completion_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    advantages = group_advantages(torch.tensor([0.2, 1.0, 0.7, 0.3]), 2)
    return prompt_ids, prompt_mask, completion_ids, completion_mask, advantages, gen


def _grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize(
    ("loss_type", "aggregation", "bias_correction"),
    [
        ("dapo", "token_mean", False),
        ("bnpo", "token_mean", False),
        ("grpo", "seq_mean_token_mean", False),
        ("dr_grpo", "seq_mean_token_sum", False),
        ("grpo", "seq_mean_token_mean", True),
    ],
)
def test_loss_matches_trl_grpo_trainer(trl_trainer, loss_type, aggregation, bias_correction):
    trainer, model = trl_trainer, trl_trainer.model
    trainer.loss_type = loss_type
    trainer.args.use_bias_correction_kl = bias_correction
    prompt_ids, prompt_mask, completion_ids, completion_mask, advantages, gen = _oracle_batch(
        model.config.vocab_size
    )
    input_ids = torch.cat([prompt_ids, completion_ids], 1)
    attention_mask = torch.cat([prompt_mask, completion_mask], 1)

    model.zero_grad()
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, prompt_ids.size(1) - 1 : -1]
    logp, entropy = logprobs_and_entropy(logits, completion_ids, TEMPERATURE)
    old_logp = logp.detach() + 0.3 * torch.randn(logp.shape, generator=gen)  # ratios away from 1: clipping acts
    ref_logp = logp.detach() + 0.5 * torch.randn(logp.shape, generator=gen)
    ours, stats = policy_loss(
        logp, advantages, completion_mask, old_logp, clip=EPSILON, clip_high=EPSILON_HIGH, ref_logp=ref_logp,
        beta=BETA, kl_estimator="k3", kl_ratio_weighted=bias_correction, entropy=entropy,
        entropy_coef=ENTROPY_COEF, aggregation=aggregation, max_len=MAX_COMPLETION,
    )  # fmt: skip
    assert stats["clip_frac_low"] > 0 and stats["clip_frac_high"] > 0
    ours.backward()
    our_grads = _grads(model)

    model.zero_grad()
    inputs = {
        "prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "completion_ids": completion_ids,
        "completion_mask": completion_mask, "advantages": advantages, "old_per_token_logps": old_logp,
        "ref_per_token_logps": ref_logp, "num_items_in_batch": completion_mask.sum(),
    }  # fmt: skip
    theirs = trainer._compute_loss(model, inputs)
    theirs.backward()
    their_grads = _grads(model)
    model.zero_grad()

    diff = (ours - theirs).abs().item()
    print(f"{loss_type} vs {aggregation} (bias_correction={bias_correction}): loss {ours.item():.6f} |diff| {diff:.2e}"
          f", grad max |diff| {(our_grads - their_grads).abs().max().item():.2e}")  # fmt: skip
    assert diff < 1e-6
    torch.testing.assert_close(our_grads, their_grads, atol=1e-6, rtol=1e-4)
