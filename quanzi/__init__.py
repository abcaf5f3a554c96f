"""Quanzi (圈子): moderation, scoring, retrieval and ranking for brand circles."""

__version__ = "0.1.0"
