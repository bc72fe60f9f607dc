"""Run settings: one pydantic-settings model, env prefix ``SOVEREIGN_``.

Every threshold the pipeline uses lives here with its default, so a run's methodology
section and manifest can state exactly what was used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_QUESTION_CHARS = 2000
MIN_QUESTION_WORDS = 3


# How a run talks to the world, not what it computes: left out of the report id, so a replay
# (cache-only, no waiting between requests) identifies the same report.
OPERATIONAL_FIELDS = frozenset({"arxiv_cache_only", "arxiv_min_interval", "arxiv_max_retries", "arxiv_cache_ttl",
                                "keep_checkpoint_history"})


def default_home() -> Path:
    """Per-user data directory (XDG on Linux), overridable with ``SOVEREIGN_HOME``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sovereign-kernel"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOVEREIGN_", extra="ignore")

    mode: Literal["offline", "nim", "custom"] = "offline"
    home: Path = Field(default_factory=default_home, description="Data dir: caches, store, runs.")
    corpus: str | None = Field(None, description="JSONL file or folder; None = bundled demo corpus.")
    sources: str = Field("local", description="Comma-separated: local, arxiv (e.g. 'arxiv,local').")
    postgres_url: SecretStr | None = Field(None, description="Checkpoint runs in Postgres instead of SQLite.")
    keep_checkpoint_history: bool = Field(
        False, description="Keep every checkpoint of a finished run (time travel in the checkpointer). By default a "
                           "run that ended keeps its last checkpoint per graph namespace: ~0.3 MB instead of ~3 MB.")

    # live arXiv source
    arxiv_url: str | None = Field(None, description="arXiv query API or a mirror (None: SOVEREIGN_ARXIV_URL or arXiv's).")
    arxiv_min_interval: float = Field(3.0, ge=0.0, description="Seconds between arXiv requests (arXiv asks for 3).")
    arxiv_cache_ttl: float = Field(7 * 24 * 3600, ge=0.0, description="Seconds a cached arXiv response is reused.")
    arxiv_cache_only: bool = Field(False, description="Use only cached arXiv responses; never call arXiv.")
    arxiv_max_retries: int = Field(3, ge=0, le=10)

    # retriever
    n_queries: int = Field(4, ge=1, le=8)
    hits_per_query: int = Field(30, ge=5, le=200, description="Lexical first-stage depth per query.")
    max_papers: int = Field(8, ge=1, le=50, description="Papers kept after the relevance gate.")
    relevance_gate: float = Field(0.40, ge=0.0, le=1.0, description="Min hybrid relevance to keep a paper.")
    semantic_weight: float = Field(0.7, ge=0.0, le=1.0, description="Weight of the embedding score in the hybrid.")

    # extractor / verifier
    claims_per_paper: int = Field(3, ge=1, le=10)
    min_claim_score: float = Field(0.35, ge=0.0, le=1.0)
    baseline_threshold: float = Field(0.15, description="Seed TF-IDF 1-2-gram cosine threshold.")
    verify_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Calibrated confidence to call a claim verified.")

    # tribunal and policy
    revision_threshold: float = Field(6.5, ge=0.0, le=10.0)
    max_revision_rounds: int = Field(1, ge=0, le=5)
    publish_threshold: float = Field(6.5, ge=0.0, le=10.0, description="Tribunal score the policy needs to publish.")
    doi_min_verified_claims: int = Field(5, ge=1)
    doi_min_sources: int = Field(3, ge=1)
    doi_min_aspect_coverage: float = Field(0.75, ge=0.0, le=1.0)

    # embedder
    embed_batch_size: int = Field(32, ge=1)
    embed_max_tokens: int = Field(256, ge=16, le=512)

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, value: str) -> str:
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = sorted(set(names) - {"local", "arxiv"})
        if unknown or not names:
            raise ValueError(f"unknown source(s) {unknown or value!r}: use local, arxiv or arxiv,local")
        return ",".join(dict.fromkeys(names))

    @property
    def source_list(self) -> list[str]:
        return self.sources.split(",")

    def resolved_home(self) -> Path:
        path = Path(self.home).expanduser()
        if not path.is_dir():  # stat, not mkdir, on the hot path: langgraph dev flags blocking mkdir
            path.mkdir(parents=True, exist_ok=True)
        return path

    def public_dict(self) -> dict:
        """Settings as recorded in reports and manifests (no secrets, paths as strings)."""
        data = self.model_dump(mode="json", exclude={"home", "postgres_url"})
        return data
