"""Ranking pipeline: sources stage components."""
