"""RewardLitModule: objectives, a training step, overfitting, pad tokens, LoRA, export round trip, configs."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig

from wrl_lightning.errors import ConfigError
from wrl_lightning.models.export import EXPORT_META, export_hf
from wrl_lightning.models.loading import resolve_model_path
from wrl_lightning.models.reward_module import OBJECTIVES, RewardLitModule, TypedBinaryMetrics
from wrl_lightning.models.rm_data import TYPE_NAMES, PairDataModule
from wrl_lightning.training.checkpoints import resolve_ckpt_path
from wrl_lightning.training.deepspeed import check_offload_optimizer
from wrl_lightning.training.precision import resolve_precision

TINY = "embedded:tiny-qwen2"
STRATEGIES = ["auto", "ddp", "deepspeed_z2", "deepspeed_z2_offload", "deepspeed_z3", "deepspeed_z3_offload"]


def write_groups(path: Path, n_groups: int) -> Path:
    """Canonical groups: the level-k response mentions the first k of three required words."""
    words = ["lantern", "ocean", "harbor", "meadow", "river", "falcon"]
    rows = []
    for g in range(n_groups):
        chosen = [words[(g + k) % len(words)] for k in range(3)]
        responses = [{"text": "Note. " + " ".join(f"It has a {w}." for w in chosen[:level]), "kept": [k < level for k in range(3)]}
                     for level in range(4)]
        rows.append({"group_id": f"g{g}", "prompt": f"Write note {g}.", "responses": responses,
                     "requirements": [{"text": f"Mention the word {w}.", "type": "lexical"} for w in chosen]})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def make_module(lr: float = 1e-2, **kwargs) -> RewardLitModule:
    return RewardLitModule(model_name=kwargs.pop("model_name", TINY), optimizer=partial(torch.optim.AdamW, lr=lr), **kwargs)


def make_data(tmp_path: Path, n_groups: int = 4, val_fraction: float = 0.0, batch_size: int = 8) -> PairDataModule:
    return PairDataModule(input=str(write_groups(tmp_path / "groups.jsonl", n_groups)), format="canonical", tokenizer=TINY,
                          max_length=256, batch_size=batch_size, val_fraction=val_fraction)


def cpu_trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, use_distributed_sampler=False, **kwargs)


@torch.no_grad()
def scores_of(module: RewardLitModule, batch: dict) -> torch.Tensor:
    module.eval()
    return module.score(module.batch_logits(batch))


def one_pair_batch(data: PairDataModule) -> dict:
    """A training batch of one pair per row (what an exported classifier reads), whatever the module packs."""
    data.packing = False
    return next(iter(data.train_dataloader()))


def test_objectives_match_their_definitions():
    logits, labels = torch.tensor([[0.0, 2.0], [1.0, -1.0]]), torch.tensor([1, 0])
    assert torch.isclose(OBJECTIVES[2].loss(logits, labels), F.cross_entropy(logits, labels))
    assert torch.isclose(OBJECTIVES[1].loss(logits[:, :1], labels), F.binary_cross_entropy_with_logits(logits[:, 0], labels.float()))
    with pytest.raises(ConfigError, match="num_labels"):
        make_module(num_labels=3)


def test_parameters_change_after_one_step(tmp_path):
    module, data = make_module(), make_data(tmp_path)
    module.configure_model()
    before = {name: p.detach().clone() for name, p in module.named_parameters()}
    cpu_trainer(max_steps=1).fit(module, datamodule=data)
    unchanged = [name for name, p in module.named_parameters() if torch.equal(before[name], p)]
    assert not unchanged


def test_overfits_a_handful_of_pairs(tmp_path):
    pl.seed_everything(0)  # the tiny head starts from a fixed init: the test is deterministic
    module, data = make_module(lr=2e-3), make_data(tmp_path, n_groups=1, batch_size=12)
    cpu_trainer(max_epochs=40).fit(module, datamodule=data)
    batch = next(iter(data.train_dataloader()))
    predicted = (scores_of(module, batch) > 0.5).long()
    assert torch.equal(predicted, batch["labels"])


@pytest.mark.parametrize("disable", [True, False])
def test_disable_dropout_sets_every_dropout_to_zero(disable):
    module = make_module(model_name="embedded:minilm", disable_dropout=disable)
    module.configure_model()
    rates = {layer.p for layer in module.model.modules() if isinstance(layer, torch.nn.Dropout)}
    assert rates == ({0.0} if disable else {0.1}) and module.model.training


def test_one_label_head_trains_with_bce(tmp_path):
    module, data = make_module(num_labels=1), make_data(tmp_path, n_groups=2)
    cpu_trainer(max_steps=2).fit(module, datamodule=data)
    scores = scores_of(module, next(iter(data.train_dataloader())))
    assert module.model.config.num_labels == 1 and ((scores > 0) & (scores < 1)).all()


def test_model_without_pad_id_gets_the_tokenizers(tmp_path):
    folder = tmp_path / "nopad"
    shutil.copytree(resolve_model_path(TINY), folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "pad_token_id": None}))
    module = make_module(model_name=str(folder))
    module.configure_model()
    assert module.model.config.pad_token_id == module.tokenizer.pad_token_id is not None
    cpu_trainer(max_steps=1).fit(module, datamodule=make_data(tmp_path))  # batches > 1 need the pad id


def test_export_reloads_unchanged_with_the_same_scores(tmp_path):
    from transformers import AutoModelForSequenceClassification

    from wrl_lightning.scoring.rm import RMScorer
    from wrl_lightning.weval.importers import load_groups

    module, data = make_module(), make_data(tmp_path)
    cpu_trainer(max_steps=2).fit(module, datamodule=data)
    batch = one_pair_batch(data)
    expected = scores_of(module, batch)
    out = export_hf(module.plain_model(), module.tokenizer, tmp_path / "export", module.template, module.objective.head)
    reloaded = AutoModelForSequenceClassification.from_pretrained(out).eval()
    with torch.no_grad():
        logits = reloaded(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(torch.softmax(logits, -1)[:, 1], expected, atol=1e-5)
    assert reloaded.config.wrl_template == module.template
    assert json.loads((out / EXPORT_META).read_text())["head"] == "p1"
    assert (out / "model.safetensors").exists()

    groups = load_groups(tmp_path / "groups.jsonl", "canonical")[:1]
    scored = RMScorer(str(out), trainer={"accelerator": "cpu"}).score(groups)[0]
    texts = [(r.text, q.text) for r in groups[0].responses for q in groups[0].requirements]
    ids = data.tokenizer([module.template.format(response=a, requirement=b) for a, b in texts])["input_ids"]
    own = [float(scores_of(module, {"input_ids": torch.tensor([row]), "attention_mask": torch.ones(1, len(row), dtype=torch.long)})[0])
           for row in ids]
    means = [sum(own[r * 3:(r + 1) * 3]) / 3 for r in range(len(groups[0].responses))]
    assert scored.scores == pytest.approx(means, abs=1e-5)


def test_rm_scorer_cuts_inputs_at_the_trained_length(tmp_path):
    from wrl_lightning.scoring.rm import DEFAULT_MAX_LENGTH, RMScorer

    module = make_module()
    module.configure_model()
    plain = export_hf(module.plain_model(), module.tokenizer, tmp_path / "plain", module.template, "p1")
    trained = export_hf(module.plain_model(), module.tokenizer, tmp_path / "trained", module.template, "p1", meta={"max_length": 96})
    assert RMScorer(str(trained)).backend.max_length == 96
    assert RMScorer(str(trained), max_length=64).backend.max_length == 64  # an explicit value wins
    assert RMScorer(str(plain)).backend.max_length == DEFAULT_MAX_LENGTH


def test_lora_trains_adapters_and_exports_merged(tmp_path):
    pytest.importorskip("peft")
    module = make_module(lora={"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]})
    data = make_data(tmp_path)
    cpu_trainer(max_steps=2).fit(module, datamodule=data)
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    assert trainable < sum(p.numel() for p in module.parameters())
    batch = one_pair_batch(data)
    expected = scores_of(module, batch)
    out = export_hf(module.plain_model(), module.tokenizer, tmp_path / "export", module.template, "p1")
    from transformers import AutoModelForSequenceClassification

    reloaded = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert not any("lora" in name for name, _ in reloaded.named_parameters())
    with torch.no_grad():
        logits = reloaded(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(torch.softmax(logits, -1)[:, 1], expected, atol=1e-5)


def test_gradient_checkpointing_builds_and_steps(tmp_path):
    module = make_module(gradient_checkpointing=True)
    cpu_trainer(max_steps=1).fit(module, datamodule=make_data(tmp_path))
    assert module.model.is_gradient_checkpointing


def test_typed_metrics_report_only_seen_types():
    metrics = TypedBinaryMetrics("val/")
    lexical, style = TYPE_NAMES.index("lexical"), TYPE_NAMES.index("style")
    metrics.update(torch.tensor([0.9, 0.2, 0.7, 0.4, 0.8]), torch.tensor([1, 0, 1, 1, -1]),
                   torch.tensor([lexical, lexical, style, style, style]))
    values = metrics.compute()
    assert values["val/n"] == 4 and values["val/type/lexical/acc"] == 1.0 and values["val/type/style/acc"] == 0.5
    assert not any("/length/" in key for key in values)
    assert {"val/acc", "val/auroc", "val/f1", "val/ece"} <= set(values)


@pytest.mark.parametrize("name", STRATEGIES)
def test_strategies_compose_and_construct(make_cfg, name):
    cfg = make_cfg(["stage=rm", f"strategy={name}"])
    spec = cfg.trainer.strategy
    strategy = instantiate(spec) if isinstance(spec, DictConfig) else spec
    if name.startswith("deepspeed"):
        zero = strategy.config["zero_optimization"]
        assert zero["stage"] == int(name[len("deepspeed_z")])
        assert ("offload_optimizer" in zero) == name.endswith("offload")
        trainer = pl.Trainer(accelerator="cpu", strategy=strategy, logger=False)
        with pytest.raises(RuntimeError, match="only supported on CUDA"):  # Lightning's DeepSpeed refuses CPU
            trainer.strategy.setup_environment()
    else:
        assert type(strategy).__name__ == "DDPStrategy" if name == "ddp" else strategy == "auto"


def test_offload_needs_deepspeed_cpu_adam(make_cfg, tmp_path):
    from wrl_lightning.stages import rm as rm_stage

    cfg = make_cfg(["stage=rm", "strategy=deepspeed_z3_offload", f"paths.output_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="model.rm.optimizer._target_.*DeepSpeedCPUAdam"):
        rm_stage.run(cfg)  # refused before any model or data is loaded
    check_offload_optimizer(True, "deepspeed.ops.adam.DeepSpeedCPUAdam", "model.rm.optimizer._target_")
    check_offload_optimizer(False, "torch.optim.AdamW", "model.rm.optimizer._target_")


def test_precision_and_checkpoint_resolution(tmp_path):
    assert resolve_precision("auto", "cpu") == "32-true"
    assert resolve_precision("bf16-mixed", "gpu") == "bf16-mixed"
    assert resolve_ckpt_path(None, tmp_path) is None
    assert resolve_ckpt_path("last", tmp_path) is None
    (tmp_path / "epoch=000.ckpt").write_text("a")
    (tmp_path / "last.ckpt").write_text("b")
    assert resolve_ckpt_path("last", tmp_path).endswith("last.ckpt")
    with pytest.raises(ConfigError, match="ckpt_path"):
        resolve_ckpt_path(str(tmp_path / "missing.ckpt"), tmp_path)


def test_experiments_compose_with_their_recipes(make_cfg):
    tiny = make_cfg(["+experiment=rm_tiny"])
    assert tiny.model.rm.model_name == "embedded:minilm" and tiny.trainer.precision == "32-true"
    seven = make_cfg(["+experiment=rm_qwen7b"])
    assert seven.model.rm.model_name == "Qwen/Qwen2.5-7B-Instruct" and seven.model.rm.num_labels == 2
    assert seven.model.rm.optimizer.lr == 5e-6 and seven.trainer.max_epochs == 3
    effective = seven.data.batch_size * seven.trainer.accumulate_grad_batches * seven.trainer.devices
    assert effective == 8  # the recipe's effective batch
    assert seven.trainer.strategy.stage == 2 and seven.trainer.precision == "bf16-mixed"
    smol = make_cfg(["+experiment=rm_smollm2"])
    assert smol.model.rm.model_name == "embedded:smollm2" and smol.model.rm.packing == "auto"
    assert smol.trainer.precision == "32-true" and smol.data.batch_size % 5 == 0  # whole 5-requirement responses
    assert tiny.model.rm.packing == "auto"  # MiniLM: auto resolves to the one-pair path (an encoder)
    small = make_cfg(["+experiment=rm_qwen1_5b", "model/rm=qwen2_5_7b"])
    assert small.model.rm.model_name == "Qwen/Qwen2.5-7B-Instruct"  # model/rm overrides from the CLI


def test_training_from_a_base_model_reports_its_new_head_in_one_line(caplog):
    """transformers' load-report table (a warning) becomes one line of ours; a scorer's load keeps the table."""
    import logging

    from wrl_lightning.models.loading import load_classifier_to_train, load_sequence_classifier

    transformers_records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = transformers_records.append
    transformers_log = logging.getLogger("transformers")
    transformers_log.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="wrl_lightning.models.loading"):
            load_classifier_to_train("embedded:minilm", num_labels=2)
        trained = [r.getMessage() for r in transformers_records if r.levelno >= logging.WARNING]
        transformers_records.clear()
        load_sequence_classifier("embedded:minilm")
    finally:
        transformers_log.removeHandler(handler)
    assert trained == []
    assert [r.getMessage() for r in caplog.records if r.name == "wrl_lightning.models.loading"] == [
        "embedded:minilm: new classification head classifier.bias, classifier.weight (trained from scratch)"]
    assert any("LOAD REPORT" in r.getMessage() for r in transformers_records)
