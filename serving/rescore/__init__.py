"""Rescore stored posts with a chosen model set (``quanzi posts rescore``).

When a champion changes, every stored post keeps the old decision, scores and vector until
something re-scores it. A rescore re-moderates, re-scores and re-embeds the selected posts
with the chosen versions:

- ``plan.py``: the selection (circle, time range, stale posts), the run's id ranges and
  its progress record (a killed run resumes; a second run finds nothing stale);
- ``batch.py``: the one per-batch function both engines call (models → policy → one
  transaction of idempotent upserts and change-log entries);
- ``local.py``: the job, its summary and the in-process engine (the default);
- ``ray_engine.py``: Ray Data reading id ranges, an actor pool holding the models.
"""
