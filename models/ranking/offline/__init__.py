"""Offline ranking on a circle world's logs: what training and evaluation of the feed share.

``quanzi eval ranking`` (``evaluation/ranking_eval.py``) and the learned ranker's training
(``training/tasks_impl/ranker*.py``) both replay a world's logged requests through the
production pipeline, against a snapshot of the world cut before each request
(``world_snapshot.py``), under one protocol (``replay.py``) and one metric
(``metrics.py``). Nothing here reads the world's hidden truth.
"""
