"""Implementations of the training ``Task`` contract (``training/tasks.py``), one per task."""
