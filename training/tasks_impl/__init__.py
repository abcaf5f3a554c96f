"""Implementations of the training ``Task`` contract (``training/tasks.py``), one module per task."""
