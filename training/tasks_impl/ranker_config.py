"""The ranker task's config: every default of its data, the choices tried on dev, and the
feature sets among them (logged as MLflow params; ``--small`` is ``RankerConfig.small``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from quanzi.datasets.world.build import default_name
from quanzi.models.ranker import FEATURES
from quanzi.settings import Settings

# Feature sets tried on dev: all, and all but the within-request age ranks (which mirror
# the newest-first logging order) — the report says which one won.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "all": FEATURES,
    "no_age_rank": tuple(f for f in FEATURES if f not in ("age_rank", "top_rank")),
}


@dataclass(frozen=True)
class RankerConfig:
    """Every default of the ranker task in one place (logged as MLflow params)."""

    world: str | None = None  # None: the demo world p<QUANZI_DEMO_POSTS>-s<QUANZI_DEMO_SEED>
    train_days: int = 14  # days before the dev days
    dev_days: int = 3  # the days before the cutoff (ranking_eval tunes on the same)
    objectives: tuple[str, ...] = ("pairwise", "pointwise")
    C_grid: tuple[float, ...] = (0.01, 0.1, 1.0)
    ipw_grid: tuple[bool, ...] = (False, True)
    feature_sets: tuple[str, ...] = ("all", "no_age_rank")
    # Training rows tried on dev: every request, or the exploration requests only ("explore"
    # is skipped on worlds without an exploration bucket).
    train_sets: tuple[str, ...] = ("all", "explore")
    use_encoder: bool = True  # False: TF-IDF + SVD post vectors (fast, for --small)
    embedding_dim: int = 64  # of the TF-IDF fallback
    seed: int = 0

    def world_name(self, settings: Settings) -> str:
        """The world this config trains on (the demo world unless it names one)."""
        return self.world or default_name(settings.demo_posts, settings.demo_seed)

    def small(self) -> RankerConfig:
        """CI-sized: fewer days and choices, no encoder."""
        return replace(
            self,
            train_days=min(self.train_days, 6),
            C_grid=(0.1,),
            ipw_grid=(False,),
            objectives=("pairwise",),
            feature_sets=("all",),
            use_encoder=False,
            embedding_dim=16,
        )
