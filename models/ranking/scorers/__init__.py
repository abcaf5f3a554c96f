"""Ranking pipeline: scorers stage components."""
