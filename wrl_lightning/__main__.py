"""`python -m wrl_lightning [stage=NAME] [+experiment=NAME] [key=value ...]` — compose, then dispatch."""

import hydra
from omegaconf import DictConfig

import wrl_lightning  # noqa: F401  (registers the config resolvers)
from wrl_lightning.utils.cli import run_cli
from wrl_lightning.utils.run import main_entry


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def app(cfg: DictConfig) -> float | None:
    """Run the configured stage."""
    return main_entry(cfg)


def main() -> None:
    """The CLI: the Hydra app, with config mistakes reported in one line (exit code 2)."""
    run_cli(app)


if __name__ == "__main__":
    main()
