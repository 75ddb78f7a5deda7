"""`python -m wrl_lightning [stage=NAME] [+experiment=NAME] [key=value ...]` — compose, then dispatch."""

import hydra
from omegaconf import DictConfig

import wrl_lightning  # noqa: F401  (registers the config resolvers)
from wrl_lightning.utils.run import main_entry


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run the configured stage."""
    return main_entry(cfg)


if __name__ == "__main__":
    main()
