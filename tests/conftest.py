"""Test-wide setup: offline hubs, temp caches, W&B offline; fixtures for configs and shared data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="wrl-tests-"))
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HOME": str(_TMP / "hf"),
    "WANDB_MODE": "offline",
    "WANDB_DIR": str(_TMP / "wandb"),
    "WANDB_CACHE_DIR": str(_TMP / "wandb-cache"),
    "WANDB_DATA_DIR": str(_TMP / "wandb-data"),
    "WANDB_CONFIG_DIR": str(_TMP / "wandb-config"),
    "WANDB_SILENT": "true",
    "TOKENIZERS_PARALLELISM": "false",
    "WRL_CACHE_DIR": str(_TMP / "wrl-cache"),
}.items():
    os.environ[_key] = _value

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

import wrl_lightning  # noqa: E402, F401  (config resolvers)

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "wrl_lightning" / "conf"
SHARED_DATA = REPO.parent / "shared" / "data"


#: Variables a launched process group leaves behind; a child process inheriting them takes itself for a rank.
DISTRIBUTED_ENV = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "NODE_RANK",
                   "GROUP_RANK", "CROSS_RANK", "CROSS_SIZE")


def child_env() -> dict[str, str]:
    """This process's environment for a command the test launches, without process-group variables."""
    return {key: value for key, value in os.environ.items() if key not in DISTRIBUTED_ENV}


def shared_file(name: str) -> Path:
    """A file of ../shared/data: skipped on a user's clone without it, a failure under CI."""
    path = SHARED_DATA / name
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing under CI")
        pytest.skip(f"{path} not present (only in the project's shared data)")
    return path


@pytest.fixture
def levels_file() -> Path:
    """The 200 real 5-level writing groups."""
    return shared_file("writing_levels_5c.jsonl")


@pytest.fixture
def ifeval_input_file() -> Path:
    """IFEval's 541 prompts."""
    return shared_file("ifeval_input.jsonl")


def compose_config(overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose the real Hydra config with ``overrides``; outputs go to ``output_dir``."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*overrides, f"paths.output_dir={output_dir}"])
    with open_dict(cfg):
        cfg.extras.print_config = False
    return cfg


@pytest.fixture
def make_cfg(tmp_path):
    """Compose configs inside a test: ``make_cfg(["stage=weval", ...])``."""
    return lambda overrides, output_dir=None: compose_config(overrides, output_dir or tmp_path / "run")


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """A tiny random Qwen2 (causal LM + 2-label classifier config) with a locally trained tokenizer."""
    from wrl_lightning.models.loading import resolve_model_path

    return Path(resolve_model_path("embedded:tiny-qwen2"))


@pytest.fixture(scope="session")
def saved_classifier(tmp_path_factory):
    """``saved_classifier(name)``: a 2-label sequence classifier for ``name`` with its (seeded, random) head
    saved, so every later load scores identically."""
    import torch

    from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer

    made: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in made:
            torch.manual_seed(0)
            directory = tmp_path_factory.mktemp("classifier")
            model = load_sequence_classifier(name, num_labels=2)
            tokenizer = load_tokenizer(name)
            if model.config.pad_token_id is None:
                model.config.pad_token_id = tokenizer.pad_token_id
            model.save_pretrained(directory)
            tokenizer.save_pretrained(directory)
            made[name] = directory
        return made[name]

    return build
