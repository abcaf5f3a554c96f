"""The moderation task's config: every default in one place (saved with the model).

The data builders' configs, one linear classifier config per learned label, the dev
precision targets and collateral budgets the thresholds are chosen for
(``moderation_thresholds.py``), and the near-duplicate threshold's target.
``ModerationConfig.small`` is the CI-sized run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quanzi.datasets.moderation.abuse import AbuseDataConfig
from quanzi.datasets.moderation.ads import AdDataConfig
from quanzi.datasets.moderation.contact import ContactDataConfig
from quanzi.datasets.moderation.spam import SpamDataConfig
from quanzi.models.moderation.linear import FeatureBlock, LinearConfig


def _default_models() -> dict[str, LinearConfig]:
    return {
        # NB-LR on binary char 1–3-grams: +0.6 pt COLD test accuracy over TF-IDF + LR.
        "offensive": LinearConfig(tf="binary", idf=False, nb=True, C=4.0),
        # C 8: with real-review negatives and repeated written rows (below), weaker L2 lets
        # the hand-written evasions count beside thousands of SMS rows (issue 12, 4th pass).
        "ad": LinearConfig(C=8.0),
        "spam": LinearConfig(C=4.0),
        "contact": LinearConfig(blocks=(FeatureBlock(ngram_min=1, ngram_max=4),), C=4.0),
        # The labels of issue 12 (and privacy, whose detectors missed half the held-out
        # posts): hand-written rows and their variants (a few hundred positives each),
        # char 1–3-grams, positives weighted up.
        **{
            label: LinearConfig(
                blocks=(FeatureBlock(ngram_min=1, ngram_max=3, max_features=200_000),),
                C=4.0,
                class_weight="balanced",
            )
            for label in ("fraud", "gambling", "sexual", "privacy")
        },
    }


@dataclass(frozen=True)
class ModerationConfig:
    """Every default of the moderation task in one place (saved with the model)."""

    seed: int = 13
    # --- data
    contact: ContactDataConfig = field(default_factory=ContactDataConfig)
    ad: AdDataConfig = field(default_factory=AdDataConfig)
    spam: SpamDataConfig = field(default_factory=SpamDataConfig)
    abuse: AbuseDataConfig = field(default_factory=AbuseDataConfig)
    annotated_offensive: bool = True  # the hand-labelled train reviews (gold/moderation)
    annotated_repeat: int = 3  # each hand-labelled review counts this many times
    cold_limit: int | None = None  # rows per COLD split (None: all)
    collateral_limit: int | None = None  # real review test texts checked (None: all)
    editor_rows: bool = True  # add editors' review decisions to train
    # The hand-written rows (datasets/moderation/written): every label learns from them,
    # fraud / gambling / sexual / privacy only from them (+ real reviews as negatives).
    written: bool = True
    written_copies: int = 2  # obfuscated variants per written train row
    # Each written train row (and its variants) of these labels counts this many times: the
    # ``ad`` and ``contact`` sets are thousands of SMS, templated reviews and obfuscated
    # handles, and the written pushes, slogans, platform nicknames and look-alikes are what
    # circle posts look like (adversarial dev, the classifier alone: ad recall 0.53 → 0.56,
    # 0.67 with the review negatives below; contact 0.61 → 0.66, no clean post flagged).
    written_repeat: dict[str, int] = field(default_factory=lambda: {"ad": 3, "contact": 3})
    new_label_review_negatives: int = 10_000  # real train reviews, negatives of new labels
    # Real train-split reviews added as negatives: COLD's negatives are Weibo talk, and
    # real reviews are what circles carry. For ``ad`` 30,000 cut SMS F1 from 0.950 to
    # 0.905, but 5,000 keep it (0.94 on the task's SMS test rows) and move long hotel and
    # book reviews — which set the ad thresholds through the background budget — down:
    # the review cut fell from 0.67 to 0.44 at the same 0.3 % of real dev reviews.
    review_negatives: dict[str, int] = field(
        default_factory=lambda: {"offensive": 30_000, "ad": 5_000}
    )
    background_dev: int = 10_000  # real dev reviews thresholds must mostly leave alone (all)
    # --- models, one per learned label
    models: dict[str, LinearConfig] = field(default_factory=_default_models)
    # --- thresholds: dev precision targets
    reject_precision: dict[str, float] = field(
        default_factory=lambda: {
            "contact": 0.95,
            "offensive": 0.95,
            "ad": 0.98,
            "spam": 0.98,
            "fraud": 0.95,
            "gambling": 0.95,
            "sexual": 0.95,
            "privacy": 0.95,
        }
    )
    # Review band: 0.90 dev precision (0.80 until issue 12 sent a sixth of the clean
    # look-alikes to review; the rules now catch what the band used to).
    review_precision: float = 0.90
    # Share of real dev reviews a reject band may flag: none, except for spam, because real
    # reviews do hold filler ("好评好评好评…") that should be rejected. 0.05 % of all dev
    # reviews (4 of ≈ 8,000): at 0.1 % the cut fell to 0.73 and rejected short complaints
    # padded with 啊啊啊 / 111 (v3 reading); 0.05 % keeps v1's 0.88 or so.
    reject_background_rate: dict[str, float] = field(
        default_factory=lambda: {
            "offensive": 0.0,
            "ad": 0.0,
            "contact": 0.0,
            "spam": 0.0005,
            "fraud": 0.0,
            "gambling": 0.0,
            "sexual": 0.0,
            "privacy": 0.0,
        }
    )
    # … and the review band (issue 12's budget: ≤ 3 % of real reviews to review, all labels
    # together; 1 % per label until then).
    review_background_rate: float = 0.003
    dup_precision: float = 0.98  # near-duplicate cosine threshold's dev precision target
    min_flagged: int = 20  # a threshold must flag at least this many dev rows
    min_dup_threshold: float = 0.8  # never call a pair with a lower cosine a copy

    @classmethod
    def small(cls, seed: int = 13) -> ModerationConfig:
        """CI-sized: a few hundred rows per set, same code paths."""
        return cls(
            seed=seed,
            contact=ContactDataConfig(seed=seed, n_train=600, n_dev=200, n_test=300),
            ad=AdDataConfig(seed=seed, n_train=400, n_dev=150, n_test=200),
            spam=SpamDataConfig(seed=seed, n_train=600, n_dev=200, n_test=300),
            abuse=AbuseDataConfig(seed=seed, n_train=200, n_dev=60),
            cold_limit=600,
            collateral_limit=300,
            editor_rows=False,
            min_flagged=5,
            review_negatives={"offensive": 200, "ad": 100},
            background_dev=150,
            written_copies=1,
            new_label_review_negatives=300,
        )
