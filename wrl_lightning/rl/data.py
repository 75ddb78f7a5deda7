"""The policy's data: prompts in rounds, each round's prompts repeated for every update slice.

One *round* is one rollout batch: ``prompts_per_round`` prompts (over all ranks), each answered ``n`` times.
The batch sampler yields this rank's share of a round's prompts once per Lightning batch of the round
(``batches_per_round`` = update slices x ppo epochs), so the module generates at the first batch of a round and
trains one slice per batch. Groups never span ranks: every rank holds whole groups. Prompts are drawn in a
seeded order, reshuffled after each pass over the prompt set.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytorch_lightning as pl
from torch.utils.data import DataLoader, Sampler

from wrl_lightning.data.split import split_keys
from wrl_lightning.errors import ConfigError
from wrl_lightning.rl.prompts import RLPrompt, load_rl_prompts
from wrl_lightning.training.distributed import rank_and_world


class RoundSampler(Sampler[list[int]]):
    """Prompt indices of each round (this rank's share), repeated ``batches_per_round`` times."""

    def __init__(self, n_prompts: int, prompts_per_round: int, batches_per_round: int, rounds: int, seed: int = 0):
        self.n_prompts, self.prompts_per_round = n_prompts, prompts_per_round
        self.batches_per_round, self.rounds, self.seed = batches_per_round, rounds, seed

    def round_prompts(self, round_index: int) -> list[int]:
        """All ranks' prompts of ``round_index``: consecutive draws from per-pass seeded permutations."""
        orders: dict[int, list[int]] = {}
        chosen = []
        for k in range(round_index * self.prompts_per_round, (round_index + 1) * self.prompts_per_round):
            epoch, position = divmod(k, self.n_prompts)
            if epoch not in orders:
                orders[epoch] = list(range(self.n_prompts))
                random.Random(self.seed + epoch).shuffle(orders[epoch])
            chosen.append(orders[epoch][position])
        return chosen

    def __iter__(self) -> Iterator[list[int]]:
        rank, world = rank_and_world()
        share = self.prompts_per_round // world
        for round_index in range(self.rounds):
            mine = self.round_prompts(round_index)[rank * share:(rank + 1) * share]
            for _ in range(self.batches_per_round):
                yield mine

    def __len__(self) -> int:
        return self.rounds * self.batches_per_round


class PolicyDataModule(pl.LightningDataModule):
    """Training prompts in rounds and held-out validation prompts.

    Args:
        input / format: training prompts (see :mod:`wrl_lightning.rl.prompts`; ``builtin`` needs no file).
        val_input / val_format: validation prompts; None holds out ``val_fraction`` of the training prompts.
        val_fraction: share of training prompts held out when there is no validation file.
        max_val_prompts: validate on at most this many prompts (the first ones; None = all).
        checkers: keep only training prompts whose requirements all have one of these checker ids (None = all).
        prompts_per_round: prompts per rollout batch over all ranks (each answered ``n`` times).
        batches_per_round: Lightning batches per round (set by the stage from the batch arithmetic).
        rounds: rollout batches in the run.
        seed: seed of the split and the prompt order.
    """

    def __init__(self, input: str | None = None, format: str = "builtin", val_input: str | None = None,
                 val_format: str = "ifeval", val_fraction: float = 0.2, max_val_prompts: int | None = None,
                 checkers: list[str] | None = None, prompts_per_round: int = 4, batches_per_round: int = 1, rounds: int = 10, seed: int = 42):
        super().__init__()
        if not 0 <= val_fraction < 1:
            raise ConfigError("rl.data.val_fraction", f"must be in [0, 1), got {val_fraction}")
        self.input, self.format, self.val_input, self.val_format = input, format, val_input, val_format
        self.val_fraction, self.max_val_prompts, self.seed = val_fraction, max_val_prompts, seed
        self.checkers = set(checkers) if checkers else None
        self.prompts_per_round, self.batches_per_round, self.rounds = prompts_per_round, batches_per_round, rounds
        self.train_prompts: list[RLPrompt] = []
        self.val_prompts: list[RLPrompt] = []

    def setup(self, stage: str | None = None) -> None:
        if self.train_prompts:
            return
        prompts = load_rl_prompts(self.input, self.format, "rl.data.format")
        if self.checkers:
            prompts = [p for p in prompts if all(r.checker in self.checkers for r in p.requirements)]
            if not prompts:
                raise ConfigError("rl.data.checkers", f"no prompt has only requirements checked by {sorted(self.checkers)}")
        if self.val_input:
            self.train_prompts = prompts
            self.val_prompts = load_rl_prompts(self.val_input, self.val_format, "rl.data.val_format")
        else:
            train_ids, val_ids = split_keys([p.id for p in prompts], self.val_fraction, self.seed)
            self.train_prompts = [p for p in prompts if p.id in train_ids]
            self.val_prompts = [p for p in prompts if p.id in val_ids]
        self.val_prompts = self.val_prompts[: self.max_val_prompts]

    def train_dataloader(self) -> DataLoader:
        sampler = RoundSampler(len(self.train_prompts), self.prompts_per_round, self.batches_per_round, self.rounds,
                               self.seed)
        return DataLoader(self.train_prompts, batch_sampler=sampler, collate_fn=list)

    def val_dataloader(self) -> DataLoader | list:
        rank, world = rank_and_world()
        mine = self.val_prompts[rank::world]
        return DataLoader(mine, batch_size=max(1, len(mine)), collate_fn=list) if mine else []


def check_batch_arithmetic(prompts_per_round: int, n: int, update_batch: int, micro_batch: int, world: int) -> int:
    """Micro-batches per optimizer update on each rank; raises naming the knobs when they do not fit."""
    rollouts = prompts_per_round * n
    if n < 2:
        raise ConfigError("algorithm.n", f"GRPO compares rollouts within a group: needs n >= 2, got {n}")
    if prompts_per_round % world:
        raise ConfigError("rl.prompts_per_round", f"{prompts_per_round} prompts do not split over {world} ranks "
                          "(each rank holds whole groups)")
    if rollouts % update_batch:
        raise ConfigError("rl.update_batch", f"{update_batch} must divide the rollout batch "
                          f"rl.prompts_per_round x algorithm.n = {prompts_per_round} x {n} = {rollouts}")
    if update_batch % (micro_batch * world):
        raise ConfigError("rl.micro_batch", f"rl.update_batch={update_batch} must be a multiple of "
                          f"rl.micro_batch x world size = {micro_batch} x {world}")
    return update_batch // (micro_batch * world)
