"""Quanzi package."""
