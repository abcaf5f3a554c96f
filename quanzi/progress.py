"""The callback long jobs report progress through (training, evaluation, promotion).

Why a module of its own: the jobs live in ``training/`` and ``evaluation/`` and must not
import the CLI; the CLI's ``stage_progress`` (``cli_groups.py``) supplies one that draws
rich progress bars.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total)
