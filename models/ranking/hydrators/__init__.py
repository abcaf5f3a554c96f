"""Ranking pipeline: hydrators stage components."""
