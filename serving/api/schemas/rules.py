"""Circle-rule schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from quanzi.serving.editorial.rules import MAX_TERM_CHARS, MAX_TERMS, Rules

Term = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TERM_CHARS)]


class CircleRulesUpdate(BaseModel):
    """The circle's complete rule set: it replaces the previous one (empty lists clear it)."""

    model_config = ConfigDict(extra="forbid")

    blocked: list[Term] = Field(
        default_factory=list,
        max_length=MAX_TERMS,
        description="Posts containing these are rejected.",
    )
    review: list[Term] = Field(
        default_factory=list,
        max_length=MAX_TERMS,
        description="Posts containing these go to the review queue.",
    )


class CircleRulesPublic(BaseModel):
    circle_id: str
    blocked: list[str] = Field(description="Normalised, as matched.")
    review: list[str] = Field(description="Normalised, as matched.")

    @classmethod
    def from_rules(cls, circle_id: str, rules: Rules) -> CircleRulesPublic:
        return cls(
            circle_id=circle_id,
            blocked=[t for t, a in rules if a == "block"],
            review=[t for t, a in rules if a == "review"],
        )
