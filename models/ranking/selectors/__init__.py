"""Ranking pipeline: selectors stage components."""
