"""Corpora loaders: schema, deterministic leak-free splits, cache, dedupe, clear errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from quanzi.datasets import corpora
from quanzi.datasets.corpora import (
    CORPORA,
    REVIEW_CORPORA,
    SPLITS,
    dedupe,
    hash_split,
    load_corpus,
    load_reviews,
    load_split,
)
from quanzi.datasets.normalize import normalize

COLUMNS = ["text", "norm", "label", "category", "row", "split"]


def _straddling(df: pd.DataFrame) -> int:
    """Distinct normalised texts found in more than one split."""
    per_text = df.groupby("norm")["split"].nunique()
    return int((per_text > 1).sum())


# --- splits ---------------------------------------------------------------------------

# Pinned so that a change of hash, salt or fractions (which would silently reshuffle
# every split, and the gold set's test split with it) fails here on every machine.
PINNED_SPLITS = {
    "质量很好": "train",
    "送餐太慢了": "train",
    "这本书很好看,推荐!": "train",
    "好评4": "test",
    "好评12": "test",
    "好评19": "test",
    "好评6": "dev",
    "好评26": "dev",
    "好评27": "dev",
    "d": "dev",
    "i": "test",
}


def test_hash_split_of_fixed_strings_is_pinned() -> None:
    assert {text: hash_split(text) for text in PINNED_SPLITS} == PINNED_SPLITS


def test_hash_split_is_80_10_10_and_depends_on_the_text_only() -> None:
    texts = [f"评论{i}" for i in range(20_000)]
    shares = pd.Series([hash_split(t) for t in texts]).value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.8, abs=0.015)
    assert shares["dev"] == pytest.approx(0.1, abs=0.01)
    assert shares["test"] == pytest.approx(0.1, abs=0.01)
    assert [hash_split(t) for t in reversed(texts)] == [hash_split(t) for t in texts][::-1]


def test_splits_do_not_depend_on_row_order(synthetic_corpora: Path, tmp_path: Path) -> None:
    before = load_corpus("online_shopping", synthetic_corpora, use_cache=False)
    path = synthetic_corpora / CORPORA["online_shopping"].files[0]
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw.iloc[::-1].to_csv(path, index=False)
    after = load_corpus("online_shopping", synthetic_corpora, use_cache=False)
    assert dict(zip(before["norm"], before["split"], strict=True)) == dict(
        zip(after["norm"], after["split"], strict=True)
    )


def test_synthetic_corpora_never_put_a_text_on_both_sides(synthetic_corpora: Path) -> None:
    for name in CORPORA:
        df = load_corpus(name, synthetic_corpora, use_cache=False)
        assert _straddling(df) == (1 if name == "cold" else 0), name  # COLD: as published


def test_same_text_in_two_corpora_gets_one_split(synthetic_corpora: Path) -> None:
    reviews = load_reviews(synthetic_corpora)
    shared = reviews[reviews["norm"] == normalize("房間很乾淨，服務也很好。")]
    assert set(shared["corpus"]) == {"online_shopping", "hotel"}
    assert _straddling(reviews) == 0


def test_cold_keeps_the_split_of_its_file_not_its_split_column(
    synthetic_corpora: Path,
) -> None:
    cold = load_corpus("cold", synthetic_corpora, use_cache=False)
    assert cold.groupby("split").size().to_dict() == {"dev": 2, "test": 2, "train": 3}
    assert cold.loc[cold["text"] == "滚回去吧", "split"].item() == "dev"
    assert set(cold["category"]) == {"race", "region", "gender"}


# --- loader schema and contents --------------------------------------------------------


def test_loader_schema_is_the_same_for_every_corpus(synthetic_corpora: Path) -> None:
    for name in CORPORA:
        df = load_corpus(name, synthetic_corpora)
        assert list(df.columns) == COLUMNS, name
        assert df["label"].dtype == "int64" and df["row"].dtype == "int64"
        assert set(df["label"]) <= {0, 1}
        assert set(df["split"]) <= set(SPLITS)
        assert (df["norm"].str.len() > 0).all()
        assert df["norm"].tolist() == [normalize(t) for t in df["text"]]


def test_loader_keeps_the_text_as_written(synthetic_corpora: Path) -> None:
    shop = load_corpus("online_shopping", synthetic_corpora)
    assert "房間很乾淨，服務也很好。" in set(shop["text"])  # stored unchanged
    assert "屏幕ＯＬＥＤ，续航１２小时" in set(shop["text"])
    assert shop.loc[shop["row"] == 0, "text"].item() == "这本书很好看，推荐！"  # BOM gone
    assert shop.loc[shop["row"] == 2, "norm"].item() == "房间很干净,服务也很好。"


def test_loader_drops_empty_texts_and_bad_labels(synthetic_corpora: Path) -> None:
    shop = load_corpus("online_shopping", synthetic_corpora)
    assert len(shop) == 7
    assert {6, 7}.isdisjoint(shop["row"])  # blank review, label "x"
    assert set(shop["category"]) == {"书籍", "酒店", "手机", "水果"}
    waimai = load_corpus("waimai", synthetic_corpora)
    assert set(waimai["category"]) == {"外卖"}


def test_load_split_and_load_reviews(synthetic_corpora: Path) -> None:
    for split in SPLITS:
        part = load_split("online_shopping", split, synthetic_corpora)
        assert set(part["split"]) <= {split}
    reviews = load_reviews(synthetic_corpora)
    assert list(reviews["corpus"].unique()) == list(REVIEW_CORPORA)
    with pytest.raises(ValueError, match="unknown split 'val'"):
        load_split("hotel", "val", synthetic_corpora)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="unknown corpus 'weibo'"):
        load_corpus("weibo", synthetic_corpora)


# --- dedupe ----------------------------------------------------------------------------


def test_drop_duplicates_keeps_one_row_per_normalised_text(synthetic_corpora: Path) -> None:
    shop = load_corpus("online_shopping", synthetic_corpora)
    assert shop["norm"].duplicated().sum() == 2
    unique = load_corpus("online_shopping", synthetic_corpora, drop_duplicates=True)
    assert not unique["norm"].duplicated().any()
    assert len(unique) == 5
    assert unique["row"].tolist() == sorted(unique["row"])  # first copy kept, order kept


def test_dedupe_can_drop_texts_whose_copies_disagree(synthetic_corpora: Path) -> None:
    shop = load_corpus("online_shopping", synthetic_corpora)
    kept = dedupe(shop, conflicts="drop")
    assert normalize("屏幕ＯＬＥＤ，续航１２小时") not in set(kept["norm"])  # labels 1 and 0
    assert normalize("这本书很好看，推荐！") in set(kept["norm"])
    with pytest.raises(ValueError, match="conflicts"):
        dedupe(shop, conflicts="majority")  # type: ignore[arg-type]


def test_dedupe_across_splits_keeps_the_held_out_copy(synthetic_corpora: Path) -> None:
    cold = load_corpus("cold", synthetic_corpora)
    assert len(dedupe(cold)) == len(cold)  # within-split dedupe leaves COLD's leak alone
    clean = dedupe(cold, across_splits=True)
    assert _straddling(clean) == 0
    assert clean.loc[clean["text"] == "同一句话在两个集里", "split"].tolist() == ["test"]


# --- cache -----------------------------------------------------------------------------


def test_second_load_comes_from_the_cache(
    synthetic_corpora: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_corpus("online_shopping", synthetic_corpora, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("online_shopping-*.parquet"))) == 1

    def no_rebuild(*_: object) -> pd.DataFrame:
        raise AssertionError("rebuilt although the cache was valid")

    monkeypatch.setattr(corpora, "_build", no_rebuild)
    assert_frame_equal(
        load_corpus("online_shopping", synthetic_corpora, cache_dir=tmp_path / "c"), first
    )


def test_default_cache_lives_in_the_settings_data_dir(
    synthetic_corpora: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANZI_DATA_DIR", str(tmp_path / "data"))
    load_corpus("waimai")
    assert list((tmp_path / "data" / "cache" / "corpora").glob("waimai-*.parquet"))


def test_changed_file_or_normaliser_invalidates_the_cache(
    synthetic_corpora: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "c"
    builds: list[str] = []
    real_build = corpora._build

    def counting_build(spec: corpora.CorpusSpec, raw: pd.DataFrame) -> pd.DataFrame:
        builds.append(spec.name)
        return real_build(spec, raw)

    monkeypatch.setattr(corpora, "_build", counting_build)
    load_corpus("hotel", synthetic_corpora, cache_dir=cache)
    load_corpus("hotel", synthetic_corpora, cache_dir=cache)
    assert len(builds) == 1
    path = synthetic_corpora / CORPORA["hotel"].files[0]
    path.write_text(path.read_text(encoding="utf-8") + "1,新加的一条\n", encoding="utf-8")
    assert len(load_corpus("hotel", synthetic_corpora, cache_dir=cache)) == 3
    assert len(builds) == 2
    monkeypatch.setattr(corpora, "normalizer_version", lambda: "changed-rules")
    load_corpus("hotel", synthetic_corpora, cache_dir=cache)
    assert len(builds) == 3
    assert len(list(cache.glob("hotel-*.parquet"))) == 1  # stale versions removed


def test_unwritable_cache_still_loads(
    synthetic_corpora: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING):
        df = load_corpus("waimai", synthetic_corpora, cache_dir=blocker / "cache")
    assert len(df) == 3
    assert "cache not written" in caplog.text


def test_corrupt_cache_file_is_rebuilt(synthetic_corpora: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    good = load_corpus("waimai", synthetic_corpora, cache_dir=cache)
    (path,) = cache.glob("waimai-*.parquet")
    path.write_bytes(b"not parquet")
    assert_frame_equal(load_corpus("waimai", synthetic_corpora, cache_dir=cache), good)


# --- errors ----------------------------------------------------------------------------


def test_missing_corpora_folder_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="QUANZI_CORPORA_DIR") as info:
        load_corpus("hotel", tmp_path / "nowhere")
    assert "nowhere" in str(info.value)


def test_missing_corpus_file_names_the_file(synthetic_corpora: Path) -> None:
    (synthetic_corpora / "cold" / "dev.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"cold/dev\.csv.*QUANZI_CORPORA_DIR"):
        load_corpus("cold", synthetic_corpora)


def test_wrong_file_names_the_missing_column(synthetic_corpora: Path) -> None:
    path = synthetic_corpora / CORPORA["waimai"].files[0]
    path.write_text("label,comment\n1,好吃\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['review'\]"):
        load_corpus("waimai", synthetic_corpora, use_cache=False)


# --- the real shared corpora -----------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in CORPORA if n != "cold"])
def test_real_hash_split_corpora_never_put_a_text_on_both_sides(
    name: str, load_real: Callable[[str], pd.DataFrame]
) -> None:
    df = load_real(name)
    assert _straddling(df) == 0
    shares = df["split"].value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.8, abs=0.03)


def test_real_reviews_share_texts_across_corpora_but_never_across_splits(
    load_real: Callable[[str], pd.DataFrame],
) -> None:
    reviews = pd.concat([load_real(n).assign(corpus=n) for n in REVIEW_CORPORA])
    hotel_in_shop = set(reviews.loc[reviews["corpus"] == "hotel", "norm"]) & set(
        reviews.loc[
            (reviews["corpus"] == "online_shopping") & (reviews["category"] == "酒店"), "norm"
        ]
    )
    assert len(hotel_in_shop) > 1000  # the overlap the hotel card warns about is real
    assert _straddling(reviews) == 0


def test_real_cold_keeps_its_official_split_sizes(
    load_real: Callable[[str], pd.DataFrame],
) -> None:
    cold = load_real("cold")
    assert cold["split"].value_counts().to_dict() == {"train": 25726, "dev": 6431, "test": 5323}
