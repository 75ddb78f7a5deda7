"""Stages: plain functions ``run(cfg) -> dict`` of metrics, one module each (selected by ``stage=NAME``)."""
