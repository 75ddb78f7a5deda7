"""RL (GRPO) policy stage.

Pure-torch maths, no Hydra or Lightning: :mod:`~wrl_lightning.rl.advantages` (group-normalised advantages),
:mod:`~wrl_lightning.rl.kl` (per-token KL estimators), :mod:`~wrl_lightning.rl.losses` (clipped policy loss and
its aggregations). Each keeps a registry from config names to functions.
"""
