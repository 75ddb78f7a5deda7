"""Training helpers through a real Trainer: DeepSpeed's loss scaling under accumulation, fresh consolidation
of DeepSpeed checkpoints, ``last.ckpt`` always the newest state and checkpoints pruned after the export, fp32 master
weights for bf16 checkpoints, exports with the usual file permissions, and input errors that name what the user wrote.

DeepSpeed runs here on its real engine (ZeRO stage 0, gloo, one CPU process); Lightning's strategy only
refuses CPUs in ``setup_environment``, which the CPU stand-ins below skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.strategies import DeepSpeedStrategy as LightningDeepSpeedStrategy
from safetensors.torch import load_file

from tests.conftest import DISTRIBUTED_ENV
from tests.unit.test_reward_module import write_groups
from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.training.checkpoints import (
    ModelCheckpoint,
    checkpoint_state_dict,
    prune_checkpoints,
    resolve_ckpt_path,
)
from wrl_lightning.training.deepspeed import DeepSpeedStrategy
from wrl_lightning.training.precision import load_dtype
from wrl_lightning.utils.run import run_stage


@pytest.fixture(scope="module", autouse=True)
def _own_process_group():
    """DeepSpeed's engine leaves a process group and MASTER_ADDR/RANK/WORLD_SIZE... in this process: undo both
    after this file, so later tests (and the processes they launch) are not taken for ranks of a finished job."""
    yield
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for key in DISTRIBUTED_ENV:
        os.environ.pop(key, None)


def _on_cpu(strategy_class: type) -> type:
    """``strategy_class`` with Lightning's CUDA-only check skipped (DeepSpeed's engine itself runs on CPU)."""

    class OnCPU(strategy_class):
        def setup_environment(self) -> None:
            self.parallel_devices = [torch.device("cpu", 0)]
            DDPStrategy.setup_environment(self)

    return OnCPU


class _Linear(pl.LightningModule):
    """A linear model whose gradient at every optimizer step is recorded (where not partitioned by ZeRO)."""

    def __init__(self, lr: float = 0.0):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1, bias=False)
        self.lr, self.grads = lr, []

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return (self.layer(batch) ** 2).mean()

    def on_before_optimizer_step(self, optimizer) -> None:
        if self.layer.weight.grad is not None:
            self.grads.append(self.layer.weight.grad.detach().clone())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def _fit(module: pl.LightningModule, batch_size: int, accumulate: int, strategy, max_steps: int = 1, ckpt_path=None):
    rows = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))[: batch_size * accumulate * max_steps]
    trainer = pl.Trainer(accelerator="cpu", devices=1, strategy=strategy, max_steps=max_steps,
                         accumulate_grad_batches=accumulate, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, torch.utils.data.DataLoader(rows, batch_size=batch_size), ckpt_path=ckpt_path)
    return trainer


def test_deepspeed_accumulation_scales_the_loss_once():
    """Accumulating 2 half batches gives the gradient of the whole batch (Lightning's stock strategy: half of it)."""
    whole = _Linear()
    _fit(whole, batch_size=4, accumulate=1, strategy="auto")
    ours, stock = _Linear(), _Linear()
    _fit(ours, batch_size=2, accumulate=2, strategy=_on_cpu(DeepSpeedStrategy)(stage=0, process_group_backend="gloo"))
    _fit(stock, batch_size=2, accumulate=2,
         strategy=_on_cpu(LightningDeepSpeedStrategy)(stage=0, process_group_backend="gloo"))
    # DeepSpeed applies the step at the accumulation boundary: the last recorded gradient is the accumulated one
    torch.testing.assert_close(ours.grads[-1], whole.grads[-1], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(stock.grads[-1], whole.grads[-1] / 2, rtol=1e-6, atol=1e-7)  # the defect it fixes


def test_deepspeed_checkpoint_is_consolidated_afresh(tmp_path):
    """A continued run that saves into the same folder exports its new weights, not the first consolidation."""
    strategy = _on_cpu(DeepSpeedStrategy)
    module = _Linear(lr=0.5)
    trainer = _fit(module, batch_size=2, accumulate=1, strategy=strategy(stage=2, process_group_backend="gloo"))
    folder = tmp_path / "final.ckpt"
    trainer.save_checkpoint(folder)
    first = checkpoint_state_dict(folder)["layer.weight"]
    torch.testing.assert_close(first, module.layer.weight.detach())
    trainer = _fit(module, batch_size=2, accumulate=1, strategy=strategy(stage=2, process_group_backend="gloo"),
                   max_steps=3, ckpt_path=str(folder))
    trainer.save_checkpoint(folder)
    second = checkpoint_state_dict(folder)["layer.weight"]
    assert not torch.equal(first, second)
    torch.testing.assert_close(second, module.layer.weight.detach())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.ckpt", "final.ckpt.fp32.pt"]  # no temp file left


class _Worsening(_Linear):
    """Logs a validation score that is best after the first epoch, then only falls (top-k saves once)."""

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("score", -float(self.current_epoch))


def _fit_with_checkpoints(tmp_path, save_last, epochs: int = 3, **options) -> tuple[pl.Trainer, ModelCheckpoint]:
    rows = torch.utils.data.DataLoader(torch.randn(4, 4, generator=torch.Generator().manual_seed(1)), batch_size=2)
    callback = ModelCheckpoint(dirpath=tmp_path / "checkpoints", filename="{epoch}", monitor="score", mode="max",
                               save_top_k=1, save_last=save_last, save_on_train_epoch_end=False, **options)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, callbacks=[callback],
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(_Worsening(lr=0.1), rows, rows)
    return trainer, callback


@pytest.mark.parametrize("save_last", [True, "link"])
def test_last_checkpoint_is_the_newest_state_when_the_monitor_stops_improving(tmp_path, save_last):
    """Lightning alone leaves last.ckpt at epoch 0 here (it rewrites it only with a top-k save): ckpt_path=last
    would resume two epochs back."""
    trainer, callback = _fit_with_checkpoints(tmp_path, save_last)
    folder = tmp_path / "checkpoints"
    last = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == trainer.global_step == 6 and last["epoch"] == 2
    assert Path(callback.best_model_path).name == "epoch=0.ckpt"
    assert not (folder / "last.ckpt").is_symlink()  # a link here would point at the epoch-0 file
    resumed = torch.load(resolve_ckpt_path("last", folder), map_location="cpu", weights_only=False)
    assert resumed["global_step"] == 6


def test_last_checkpoint_links_to_the_top_k_file_of_the_same_step(tmp_path):
    _fit_with_checkpoints(tmp_path, "link", epochs=1)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert last.is_symlink() and last.resolve().name == "epoch=0.ckpt"  # one file on disk, not two copies


@pytest.mark.parametrize(("keep", "left"), [("all", ["epoch=0.ckpt", "last.ckpt"]), ("last", ["last.ckpt"]), ("none", None)])
def test_checkpoints_are_pruned_as_configured(tmp_path, keep, left):
    _, callback = _fit_with_checkpoints(tmp_path, True, keep=keep)
    removed = prune_checkpoints(callback)
    folder = tmp_path / "checkpoints"
    assert (sorted(p.name for p in folder.iterdir()) if folder.exists() else None) == left
    assert bool(removed) == (keep != "all")


def test_checkpoint_keep_is_checked():
    with pytest.raises(ConfigError, match="callbacks.model_checkpoint.keep"):
        ModelCheckpoint(keep="best")


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_exported_files_get_the_usual_permissions(tmp_path, umask):
    """safetensors writes through a private 0600 temporary file; the export follows the umask like any file."""
    from wrl_lightning.models.export import save_hf_folder
    from wrl_lightning.models.loading import load_causal_lm, load_tokenizer

    model, tokenizer = load_causal_lm("embedded:tiny-qwen2"), load_tokenizer("embedded:tiny-qwen2")
    previous = os.umask(umask)
    try:
        folder = save_hf_folder(model, tokenizer, tmp_path / "export", {"meta.json": {"a": 1}})
    finally:
        os.umask(previous)
    modes = {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()}
    assert "model.safetensors" in modes and set(modes.values()) == {0o666 & ~umask}, modes
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask


def test_bf16_checkpoint_trains_with_fp32_weights(make_cfg, tmp_path):
    """Qwen2.5 ships bf16: with model.rm.dtype null the RM still trains and exports fp32 weights."""
    from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer

    source = tmp_path / "bf16"
    model = load_sequence_classifier("embedded:tiny-qwen2", num_labels=2).to(torch.bfloat16)
    model.save_pretrained(source)
    load_tokenizer("embedded:tiny-qwen2").save_pretrained(source)
    assert load_sequence_classifier(str(source)).dtype == torch.bfloat16  # what transformers does by default
    out = tmp_path / "run"
    run_stage(make_cfg(["stage=rm", "logger=none", "callbacks.progress_bar=null", "trainer.accelerator=cpu",
                        f"data.input={write_groups(tmp_path / 'g.jsonl', 4)}", "data.format=canonical",
                        "data.val_fraction=0", "callbacks.model_checkpoint.monitor=null", "callbacks.weval=null",
                        "data.max_length=64", f"model.rm.model_name={source}", "trainer.max_epochs=1"], out))
    weights = load_file(out / "export" / "model.safetensors")
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}


def test_load_dtype_is_bf16_only_under_deepspeed_bf16():
    def trainer(strategy, precision):
        return pl.Trainer(accelerator="cpu", devices=1, strategy=strategy, precision=precision, logger=False)

    assert load_dtype(trainer(DeepSpeedStrategy(stage=2), "bf16-mixed")) == torch.bfloat16
    assert load_dtype(trainer(DeepSpeedStrategy(stage=2), "32-true")) == torch.float32
    assert load_dtype(trainer("auto", "bf16-mixed")) == torch.float32
    assert load_dtype(None) == torch.float32


def test_weval_format_typo_names_the_data_key(make_cfg, tmp_path):
    groups = write_groups(tmp_path / "g.jsonl", 4)
    cfg = make_cfg(["stage=rm", "logger=none", f"data.input={groups}", "data.format=canonical",
                    f"data.weval_input={groups}", "data.weval_format=canonicl"])
    with pytest.raises(ConfigError, match=r"^config error: data\.weval_format: unknown format 'canonicl'"):
        run_stage(cfg)


def test_levels_requirements_must_be_a_list(make_cfg, tmp_path):
    path = tmp_path / "levels.jsonl"
    rows = [{"group_id": "a", "full_prompt": "Write.", "level": k, "requirements": "Be brief.", "response": f"r{k}"}
            for k in range(3)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(RecordError, match=rf"^{path}:1: requirements: expected a non-empty list, got str"):
        run_stage(make_cfg(["stage=weval", f"weval.input={path}", "weval.format=levels", "logger=none"]))


def test_non_object_meta_names_the_line(make_cfg, tmp_path):
    path = tmp_path / "groups.jsonl"
    row = json.loads(write_groups(tmp_path / "g.jsonl", 1).read_text())
    for response, score in zip(row["responses"], range(4), strict=True):
        response["score"] = score
    row["responses"][2]["meta"] = "level 2"
    path.write_text("\n" + json.dumps(row) + "\n")
    with pytest.raises(RecordError, match=rf"^{path}:2: responses\[2\]\.meta: expected an object, got str"):
        run_stage(make_cfg(["stage=weval", f"weval.input={path}", "weval.format=canonical", "scorer=precomputed",
                            "logger=none"]))
