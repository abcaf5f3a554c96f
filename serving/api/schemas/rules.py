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
    dropped: list[str] = Field(
        default_factory=list,
        description="Terms of the update left out, each with why: empty once normalised, a "
        "repeat of an earlier term once normalised, or too long once NFKC expanded it.",
    )

    @classmethod
    def from_rules(
        cls, circle_id: str, rules: Rules, dropped: list[str] | None = None
    ) -> CircleRulesPublic:
        return cls(
            circle_id=circle_id,
            blocked=[t for t, a in rules if a == "block"],
            review=[t for t, a in rules if a == "review"],
            dropped=dropped or [],
        )
