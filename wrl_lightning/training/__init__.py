"""Generic Lightning training helpers shared by the training stages (RM, policy): trainer and callbacks from
configs, precision, checkpoints and their consolidation, the DeepSpeed strategy."""
