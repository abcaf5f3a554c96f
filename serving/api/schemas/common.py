"""Limits shared by every resource's schemas."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_PAGE = 200  # rows per page: a cap, so one request can never read a whole table
DEFAULT_PAGE = 50
MAX_OFFSET = 100_000
ID_MAX_LENGTH = 64  # ids are String(64) in the store

ResourceId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)]
