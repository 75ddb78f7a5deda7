"""``stage=pipeline``: the embedded WRL loop — pairs → RM training → WEval of the trained RM against baselines on
held-out groups → a short GRPO run of a tiny policy rewarded by that RM. Each step is the real stage, composed
from the same configs with its own overrides, writing into ``<output_dir>/<step>/``; the run folder gets one
summary (``summary.md``, ``summary.png``), also printed as the last screen."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from wrl_lightning.utils.files import write_text
from wrl_lightning.utils.run import is_global_zero, output_dir, run_stage
from wrl_lightning.weval import comparison

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"

#: Name of the reward source that receives the trained RM in the RL step (``rl.rewards.rm``).
RM_REWARD = "rm"


def compose_step(overrides: list[str]) -> DictConfig:
    """The root config composed with ``overrides`` (inside a Hydra app or standalone)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    context = nullcontext() if GlobalHydra.instance().is_initialized() else initialize_config_dir(str(CONF_DIR), version_base="1.3")
    with context:
        return compose(config_name="config", overrides=overrides)


def _step(cfg: DictConfig, name: str, overrides: list[str]) -> dict[str, Any]:
    """Run one step with the pipeline's seed, logger (every step in one W&B group) and printing settings plus
    ``overrides``."""
    group = OmegaConf.select(cfg, "logger.group") or f"{cfg.task_name}-{output_dir(cfg).name}"
    shared = [f"seed={cfg.seed}", f"logger={cfg.pipeline.logger}", f"logger.group={group}",
              f"extras.print_config={cfg.pipeline.print_steps}"]
    step_cfg = compose_step([*shared, *overrides, f"paths.output_dir={output_dir(cfg) / name}"])
    with open_dict(step_cfg):
        step_cfg.paths.cache_dir = cfg.paths.cache_dir
    return run_stage(step_cfg)


def run(cfg: DictConfig) -> dict[str, Any]:
    """pairs → rm → weval (trained RM, then each baseline) on the held-out groups → rl (unless ``pipeline.rl`` is
    null); writes the summary; returns all metrics, each step's under ``<step>/``."""
    out = output_dir(cfg)
    steps = OmegaConf.to_container(cfg.pipeline, resolve=True)
    pairs_dir = out / "pairs"
    metrics: dict[str, Any] = {}

    def record(name: str, result: dict[str, Any]) -> dict[str, Any]:
        metrics.update({f"{name}/{k}": v for k, v in result.items()})
        return result

    record("pairs", _step(cfg, "pairs", ["stage=pairs", *steps["pairs"]]))
    rm = record("rm", _step(cfg, "rm", [
        *steps["rm"], f"data.input={pairs_dir / 'pairs_train.jsonl'}", "data.format=pairs",
        f"data.weval_input={pairs_dir / 'weval_groups.jsonl'}", "data.weval_format=canonical",
        f"callbacks.model_checkpoint.keep={steps['checkpoints']}",
    ]))
    held_out = [f"weval.input={pairs_dir / 'weval_groups.jsonl'}", "weval.format=canonical"]
    scorers = {"rm": ["scorer=rm", f"scorer.model={rm['export_dir']}", *steps["weval"]]}
    scorers.update({name: [f"scorer={name}"] for name in steps["baselines"]})
    weval = {name: record(f"weval_{name}", _step(cfg, f"weval_{name}", ["stage=weval", "weval.print_summary=false", *held_out, *overrides]))
             for name, overrides in scorers.items()}
    rl = None
    if steps.get("rl") is not None:
        rl = record("rl", _step(cfg, "rl", ["stage=rl", *steps["rl"], f"+reward@rl.rewards.{RM_REWARD}={steps['rl_reward']}",
                                            f"rl.rewards.{RM_REWARD}.model={rm['export_dir']}"]))
    if is_global_zero():
        summary = Summary(out, weval, rm, rl)
        metrics.update(summary.write())
        summary.print()
    return metrics


class Summary:
    """The run's one summary: the held-out WEval comparison with bootstrap intervals, the RL reward before and
    after, and where the files are — as ``summary.md`` + ``summary.png`` at the top of the run folder and as the
    last screen of the console."""

    def __init__(self, out: Path, weval: dict[str, dict[str, Any]], rm: dict[str, Any], rl: dict[str, Any] | None):
        self.out, self.weval, self.rm, self.rl = out, weval, rm, rl
        self.n_groups = next(iter(weval.values()))["n_groups"]

    @property
    def title(self) -> str:
        return f"WEval on {self.n_groups} held-out groups (prompts never trained on)"

    def rl_line(self) -> str | None:
        """The mean GRPO training reward of the first and of the last rounds."""
        if self.rl is None:
            return None
        return (f"GRPO of a tiny policy rewarded by this RM: mean reward {self.rl['reward_start']:.4f} → "
                f"{self.rl['reward_end']:.4f} (first → last tenth of {self.rl['rounds']} rounds)")

    def files(self) -> list[tuple[str, str]]:
        """(path relative to the run folder, what it holds)."""
        files = [("summary.md, summary.png", "this summary; the scorers' bars with 95% bootstrap intervals"),
                 ("pairs/", "RM training pairs and the held-out WEval groups"),
                 (f"{Path(self.rm['export_dir']).relative_to(self.out)}/", "the trained RM (Hugging Face folder)")]
        files += [(f"weval_{name}/", "table.md, plot_by_*.png, scores.jsonl") for name in self.weval]
        if self.rl is not None:
            rl_dir = Path(self.rl["reward_curve"]).parent.relative_to(self.out)
            files += [(f"{rl_dir}/reward_curve.png", "the GRPO training reward per round"),
                      (f"{Path(self.rl['export_dir']).relative_to(self.out)}/", "the trained policy")]
        return [*files, ("metrics.json", "every step's metrics")]

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", "×100, with the 95% percentile-bootstrap interval over groups.", "",
                 comparison.markdown(self.weval), "![WEval comparison](summary.png)", ""]
        if self.rl is not None:
            lines += ["## RL", "", self.rl_line() + ".", "", "![reward curve](rl/reward_curve.png)", ""]
        lines += ["## Files", "", f"In `{self.out}`:", "", *[f"- `{path}`: {what}" for path, what in self.files()]]
        return "\n".join(lines) + "\n"

    def write(self) -> dict[str, str]:
        """``summary.md`` and ``summary.png``; returns their paths."""
        png = comparison.plot(self.weval, self.out / "summary.png", f"{self.title}\n95% bootstrap intervals")
        md = write_text(self.out / "summary.md", self.markdown())
        return {"summary_md": str(md), "summary_png": str(png)}

    def print(self) -> None:
        from rich.console import Console
        from rich.table import Table

        console = Console(soft_wrap=True)
        table = Table(title=self.title, caption="×100 · [95% bootstrap interval]", title_justify="left")
        for column in comparison.header():
            table.add_column(column)
        for row in comparison.rows(self.weval):
            table.add_row(*row)
        console.print()
        console.print(table)
        if self.rl is not None:
            console.print(self.rl_line())
        console.print(f"Results in [bold]{self.out}[/]:")
        width = max(len(path) for path, _ in self.files())
        for path, what in self.files():
            console.print(f"  {path:<{width}}  {what}", highlight=False)
