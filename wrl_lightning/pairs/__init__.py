"""Pair construction: prompts with requirements -> responses that keep or drop them -> labelled RM pairs.

``prompts`` reads prompt files, ``strategies`` chooses which requirement subsets to answer, ``build`` turns
prompts and responses into WEval groups, ``pairing`` cuts groups into pairs, ``split`` keeps every prompt on
one side of train/eval, ``verify`` checks labels with rule checkers, ``stats`` summarises the result.
"""
