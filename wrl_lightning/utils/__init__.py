"""Glue shared by stages: config checks, run bookkeeping, loggers, resolvers."""
