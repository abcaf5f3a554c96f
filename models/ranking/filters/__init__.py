"""Ranking pipeline: filters stage components."""
