"""Dagster wiring only: every module builds ``dg.Definitions`` from ``Settings``; the logic
lives in the library packages. Nothing outside ``defs`` imports ``defs``."""
