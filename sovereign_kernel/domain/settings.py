"""Run settings: one configuration model, grouped by stage, every threshold with its default.

``Settings`` holds where a run reads and writes (``home``, ``corpus``, ``sources``) and one group
per stage: ``retriever``, ``extraction``, ``verification``, ``tribunal``, ``synthesis``, ``arxiv``,
``llm``. Every field also has a *flat name*, unique across groups (``max_papers``, ``arxiv_url``,
``chat_model``): it is the environment variable after ``SOVEREIGN_`` (``SOVEREIGN_MAX_PAPERS``),
the keyword of ``research(..., max_papers=5)`` and the field name in LangGraph Studio's form.

A run records its settings in the manifest (``Settings.record``); the report id is derived from
them minus the *operational* fields (``Settings.identity``): how a run talks to the world
(timeouts, retries, cache-only replays), not what it computes.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal, get_args

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_QUESTION_CHARS = 2000
MIN_QUESTION_WORDS = 3

LLMRole = Literal["planner", "extractor", "verifier", "writer", "skeptic", "validator", "synthesizer", "reviser"]
LLM_ROLES: tuple[str, ...] = get_args(LLMRole)
API_KEY_ENV = "NVIDIA_API_KEY"

def _operational() -> dict:
    """``json_schema_extra`` of a field left out of the report id (how a run talks to the world)."""
    return {"operational": True}


def default_home() -> Path:
    """Per-user data directory (XDG on Linux), overridable with ``SOVEREIGN_HOME``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sovereign-kernel"


class _Group(BaseSettings):
    """A settings group: its fields read ``SOVEREIGN_<FLAT NAME>`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="SOVEREIGN_", extra="ignore")
    flat_prefix: ClassVar[str] = ""  # the group's prefix in flat names (and env names after SOVEREIGN_)


class RetrieverSettings(_Group):
    n_queries: int = Field(4, ge=1, le=8, description="Planned queries per search round.")
    hits_per_query: int = Field(30, ge=5, le=200, description="Lexical first-stage depth per query.")
    dense_candidates: int = Field(30, ge=0, le=200, description="Local corpus: the papers whose title + first "
                                  "sentence lie nearest the question in meaning, added as candidates (0: none).")
    max_papers: int = Field(8, ge=1, le=50, description="Papers kept after the relevance gate.")
    relevance_gate: float = Field(0.40, ge=0.0, le=1.0, description="Min hybrid relevance to keep a paper.")
    semantic_weight: float = Field(0.7, ge=0.0, le=1.0, description="Weight of the embedding score in the hybrid.")
    # MiniLM question-abstract cosines: ~0.15 unrelated cs papers, ~0.7 the closest; this range is stretched to 0..1
    semantic_floor: float = Field(0.15, ge=-1.0, le=1.0, description="Embedding cosine that counts as 0 relevance.")
    semantic_ceil: float = Field(0.70, ge=-1.0, le=1.0, description="Embedding cosine that counts as full relevance.")
    facet_generic_share: float = Field(
        0.2, ge=0.0, le=1.0, description="A question facet held by more of the corpus than this does not "
                                         "distinguish papers: listed, not required to be joined with the others.")
    # why these two values, and what they were measured against: verification/rerank.py
    rerank_depth: int = Field(12, ge=0, le=100, description="Top candidates the verifier rereads and reorders "
                                                           "before the gate (0: the first stage's order).")
    rerank_beta: float = Field(0.5, ge=0.0, le=1.0, description="Rerank: (1 - beta) x first-stage position + "
                                                               "beta x the verifier's reading.")
    read_full_text: bool = Field(True, description="Read a library's PDFs in full (False: each from the abstract "
                                                   "on its first page, the baseline).")
    passages_per_paper: int = Field(
        8, ge=1, le=20, description="Full text: passages the run reads of each of the 3 papers whose passages match "
                                    "best (its best for the question); half as many of the others.")
    max_pdf_pages: int = Field(300, ge=1, description="A longer PDF (a book, a thesis) is skipped, and said so.",
                               json_schema_extra=_operational())
    embed_batch_size: int = Field(32, ge=1, description="Texts per local embedder batch.")
    embed_max_tokens: int = Field(256, ge=16, le=512, description="Local embedder truncation, in word pieces.")


class ExtractionSettings(_Group):
    claims_per_paper: int = Field(3, ge=1, le=10)
    body_claims_per_paper: int = Field(3, ge=0, le=10, description="Full text: claims from the passages read, "
                                                                  "besides the abstract's.")
    min_claim_score: float = Field(0.35, ge=0.0, le=1.0, description="Offline: min claim score to keep a sentence.")
    claim_cue_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Claim score = w x claim-cue score + (1 - w) x relevance to the question.")
    claim_relevance_floor: float = Field(0.1, description="Claim-question cosine that counts as 0 relevance.")
    claim_relevance_span: float = Field(0.5, gt=0.0, description="Cosine range above the floor that maps onto 0..1.")
    span_match_min: float = Field(0.9, ge=0.0, le=1.0,
                                  description="LLM claims: difflib ratio a near-verbatim source span needs.")
    span_min_words: int = Field(4, ge=1, description="LLM claims: shorter source spans state no claim.")


class VerificationSettings(_Group):
    baseline_threshold: float = Field(0.15, description="Seed TF-IDF 1-2-gram cosine threshold.")
    verify_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Calibrated confidence to call a claim verified.")
    verifier_passages: int = Field(3, ge=1, le=10, description="LLM verifier: passages (closest papers) per claim.")
    contradict_threshold: float = Field(
        0.4, ge=0.0, le=1.0, description="The cross-encoder's P(CONTRADICT) at which another paper's sentence is "
                                         "reported as contradicting a claim (it must also exceed P(SUPPORT), and the "
                                         "sentence must visibly oppose the claim); 0.4: out of fold on SciFact train "
                                         "precision 0.48, recall 0.25; a higher one buys little precision for much "
                                         "recall (0.6: 0.53 / 0.19; bench/results/verifier_cv.txt).")


class TribunalSettings(_Group):
    revision_threshold: float = Field(6.5, ge=0.0, le=10.0, description="Tribunal score below which a round revises.")
    max_revision_rounds: int = Field(1, ge=0, le=5)
    publish_threshold: float = Field(6.5, ge=0.0, le=10.0, description="Tribunal score the policy needs to publish.")
    review_pass_score: float = Field(6.5, ge=0.0, le=10.0, description="A review at or above this says PUBLISH.")
    review_reject_below: float = Field(4.0, ge=0.0, le=10.0, description="A review below this says REJECT.")
    reject_margin: float = Field(2.5, ge=0.0, le=10.0,
                                 description="The tribunal REJECTs below revision_threshold - margin with a REJECT review.")
    off_topic_claim_relevance: float = Field(0.3, description="Claim-question cosine below which a claim is off-topic.")
    llm_review_weight: float = Field(0.5, ge=0.0, le=1.0, description="The LLM reviewer's share of a review's score.")
    llm_review_max_raise: float = Field(1.0, ge=0.0, le=10.0,
                                        description="Points an LLM reviewer may add above the measured rubric.")
    sufficiency_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Evidence sufficiency (calibrated P(the corpus answers the question)) the "
                                         "policy needs to publish and DOI grade needs.")
    doi_min_corroborated_claims: int = Field(
        2, ge=1, description="Claims corroborated by another paper DOI grade needs (self-grounding never counts).")
    breadth_sources: int = Field(3, ge=1, description="Distinct papers behind grounded claims the SYNTHESIZER wants "
                                                      "(breadth: reported and reviewed, not required for DOI grade).")


class SynthesisSettings(_Group):
    answer_max_sentences: int = Field(5, ge=2, le=5, description="Sentences of the report's Answer, at most.")
    answer_min_overlap: float = Field(
        0.6, ge=0.0, le=1.0, description="A generated Answer sentence survives the audit when its cited claims hold "
                                         "this share of its content words (or the calibrated verifier supports it "
                                         "against them and they hold half of this share).")
    theme_similarity: float = Field(
        0.05, ge=-1.0, le=1.0, description="Claims' similarity (cosine after removing what all of them share) above "
                                           "which findings are grouped into one theme.")
    max_themes: int = Field(5, ge=1, le=12, description="Named themes of the findings; the rest are 'Other findings'.")
    claims_per_theme: int = Field(3, ge=1, le=10, description="Claims a theme's finding cites.")
    comparison_max_rows: int = Field(8, ge=1, le=30, description="Rows of the comparison table.")


class ArxivSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="SOVEREIGN_ARXIV_", extra="ignore")
    flat_prefix: ClassVar[str] = "arxiv_"

    url: str | None = Field(None, description="arXiv query API or a mirror (None: arXiv's).",
                            json_schema_extra=_operational())
    pdf_url: str | None = Field(None, description="arXiv's PDF endpoint or a mirror (None: https://arxiv.org/pdf/).",
                                json_schema_extra=_operational())
    full_text: bool = Field(False, description="Download the kept papers' PDFs and read their full text (live arXiv "
                                               "source).")
    min_interval: float = Field(3.0, ge=0.0, description="Seconds between arXiv requests (arXiv asks for 3).",
                                json_schema_extra=_operational())
    cache_ttl: float = Field(7 * 24 * 3600, ge=0.0, description="Seconds a cached arXiv response is reused.",
                             json_schema_extra=_operational())
    cache_only: bool = Field(False, description="Use only cached arXiv responses; never call arXiv.",
                             json_schema_extra=_operational())
    max_retries: int = Field(3, ge=0, le=10, json_schema_extra=_operational())


class LLMSettings(_Group):
    """Models and transport for ``nim`` / ``custom`` mode. The key is read from ``NVIDIA_API_KEY`` only
    (a generic API_KEY meant for something else must never be sent to NVIDIA), held as a
    ``SecretStr`` and never dumped."""

    nim_base_url: str | None = Field(
        None, validation_alias=AliasChoices("SOVEREIGN_NIM_BASE_URL", "NVIDIA_BASE_URL"),
        description="Self-hosted NIM root or /v1 URL; None = NVIDIA's hosted API.", json_schema_extra=_operational())
    embed_base_url: str | None = Field(
        None, description="Embedding NIM URL when it runs apart from the chat NIM; None = nim_base_url.",
        json_schema_extra=_operational())
    chat_model: str = "meta/llama-3.3-70b-instruct"
    role_models: dict[str, str] = Field(default_factory=dict, description="Per-role model override, role -> model.")
    embed_model: str = "nvidia/nv-embedqa-e5-v5"
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_completion_tokens: int = Field(1024, ge=16)
    timeout_s: float = Field(60.0, gt=0, json_schema_extra=_operational())
    max_concurrency: int = Field(
        8, ge=1, le=64, json_schema_extra=_operational(),
        description="LLM requests in flight at once. 8 = the default max_papers: extraction and verification "
                    "each take one round trip; lower it for a small self-hosted NIM.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries of 429/5xx/timeouts, after the first attempt.",
                             json_schema_extra=_operational())
    invalid_retries: int = Field(1, ge=0, le=5, description="Re-asks after a None/invalid structured answer.",
                                 json_schema_extra=_operational())
    backoff_initial_s: float = Field(1.0, ge=0.0, json_schema_extra=_operational())
    backoff_max_s: float = Field(20.0, ge=0.0, json_schema_extra=_operational())
    token_budget: int | None = Field(None, ge=0, description="Prompt+completion tokens per run; None = unlimited.")
    usage_telemetry: bool = Field(False, description="The NVIDIA client's aggregate usage telemetry (hosted only).",
                                  json_schema_extra=_operational())
    api_key: SecretStr | None = Field(None, validation_alias=API_KEY_ENV, repr=False, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _by_name(cls, data: Any) -> Any:
        # Keyword names for the aliased fields, without populate_by_name (which would also make
        # the env source read SOVEREIGN_API_KEY).
        if isinstance(data, dict):
            data = dict(data)
            for name, alias in (("api_key", API_KEY_ENV), ("nim_base_url", "SOVEREIGN_NIM_BASE_URL")):
                if name in data:
                    data[alias] = data.pop(name)
        return data

    @field_validator("role_models")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(LLM_ROLES))
        if unknown:  # a typo would otherwise silently fall back to the default model
            raise ValueError(f"unknown roles in role_models: {unknown}; known: {list(LLM_ROLES)}")
        return value

    def model_for(self, role: str) -> str:
        return self.role_models.get(role, self.chat_model)

    def key(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def secrets(self) -> tuple[str, ...]:
        """What ``redact`` must remove from text built from this configuration's errors."""
        return tuple(s for s in (self.key(), os.environ.get(API_KEY_ENV)) if s)


GROUPS: Mapping[str, type[_Group]] = MappingProxyType({
    "retriever": RetrieverSettings, "extraction": ExtractionSettings, "verification": VerificationSettings,
    "tribunal": TribunalSettings, "synthesis": SynthesisSettings, "arxiv": ArxivSettings, "llm": LLMSettings,
})


class Settings(BaseSettings):
    """Everything a run is configured by (env prefix ``SOVEREIGN_``; see the module doc)."""

    model_config = SettingsConfigDict(env_prefix="SOVEREIGN_", extra="forbid")

    home: Path = Field(default_factory=default_home, description="Data dir: store, runs, caches.",
                       json_schema_extra=_operational())
    cache_dir: Path | None = Field(
        None, description="Where the corpus index and vector caches live; None = home. Several data dirs may "
                          "share one.", json_schema_extra=_operational())
    cache_lock_timeout: float = Field(
        10.0, ge=0.0, description="Seconds to wait for a vector cache another process holds locked; then the run "
                                  "computes its vectors without caching them.", json_schema_extra=_operational())
    corpus: str | None = Field(None, description="JSONL file or folder; None = bundled demo corpus.")
    sources: str = Field("local", description="Comma-separated: local, arxiv (e.g. 'arxiv,local').")
    postgres_url: SecretStr | None = Field(None, description="Checkpoint runs in Postgres instead of SQLite.",
                                           json_schema_extra=_operational())
    keep_checkpoint_history: bool = Field(
        False, json_schema_extra=_operational(),
        description="Keep every checkpoint of a finished run (time travel in the checkpointer). By default a "
                    "run that ended keeps its last checkpoint per graph namespace: ~0.3 MB instead of ~3 MB.")

    retriever: RetrieverSettings = Field(default_factory=RetrieverSettings)
    extraction: ExtractionSettings = Field(default_factory=ExtractionSettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    tribunal: TribunalSettings = Field(default_factory=TribunalSettings)
    synthesis: SynthesisSettings = Field(default_factory=SynthesisSettings)
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)

    @model_validator(mode="before")
    @classmethod
    def _groups(cls, data: Any) -> Any:
        """Flat names go to their group; a group given as a dict (or with flat overrides) is built
        with ``__init__``, so its other fields still read the environment (validation would not)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        by_group: dict[str, dict] = {}
        for key in [k for k in data if k in FLAT_NAMES and FLAT_NAMES[k][0] is not None]:
            group, field = FLAT_NAMES[key]
            by_group.setdefault(group, {})[field] = data.pop(key)
        for group, group_cls in GROUPS.items():
            given, extra = data.get(group), by_group.get(group)
            if extra is None and (given is None or isinstance(given, group_cls)):
                continue
            if isinstance(given, _Group):
                given = {**given.model_dump(), **({"api_key": given.api_key} if group == "llm" and given.api_key else {})}
            data[group] = group_cls(**{**(given or {}), **(extra or {})})
        return data

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

    @property
    def caches(self) -> Path:
        """The directory of the index and vector caches (not created here: callers do, off the event loop)."""
        return Path(self.cache_dir or self.home).expanduser()

    def data_dir(self) -> Path:
        """``home``, created if missing. Blocking: call it from a worker thread inside a graph run."""
        path = Path(self.home).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- views ---------------------------------------------------------------------------------
    def record(self, mode: str = "offline") -> dict:
        """The settings as a manifest, the run log and a replay record them: no secrets, no paths of
        the machine's own data dirs; the ``llm`` group only when a model was used."""
        data = self.model_dump(mode="json", exclude={"home", "cache_dir", "postgres_url"})
        if mode == "offline":
            data.pop("llm")
        return data

    def identity(self, mode: str = "offline") -> dict:
        """``record`` without the operational fields: what the report id is derived from."""
        data = self.record(mode)
        for name in OPERATIONAL_FIELDS:
            group, field = FLAT_NAMES[name]
            owner = data.get(group) if group else data
            if isinstance(owner, dict):
                owner.pop(field, None)
        return data

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name (secrets excluded)."""
        out: dict[str, Any] = {}
        for name, (group, field) in FLAT_NAMES.items():
            if field in ("api_key", "postgres_url"):
                continue
            out[name] = getattr(getattr(self, group) if group else self, field)
        return out

    @classmethod
    def from_record(cls, record: dict, **flat: Any) -> "Settings":
        """Settings a run recorded (nested, or the flat record of earlier versions), with overrides."""
        data = {k: v for k, v in record.items() if k in FLAT_NAMES or k in GROUPS}
        merged: dict[str, Any] = {}
        for key, value in data.items():
            if key in GROUPS and isinstance(value, dict):
                for field, v in value.items():
                    if field in GROUPS[key].model_fields:
                        merged[GROUPS[key].flat_prefix + field] = v
            else:
                merged[key] = value
        return cls(**{**merged, **flat})

    def with_overrides(self, **flat: Any) -> "Settings":
        """A copy with settings given by flat name; ``None`` means not given. An unknown name is a
        ``TypeError`` that names the closest setting."""
        check_names(flat)
        given = {k: v for k, v in flat.items() if v is not None}
        if not given:
            return self
        current: dict[str, Any] = self.flat()
        secrets = {"postgres_url": self.postgres_url, "api_key": self.llm.api_key}
        current.update({k: v for k, v in secrets.items() if v is not None})
        return Settings(**{**current, **given})


def _flat_names() -> dict[str, tuple[str | None, str]]:
    names: dict[str, tuple[str | None, str]] = {}
    for field in Settings.model_fields:
        if field not in GROUPS:
            names[field] = (None, field)
    for group, cls_ in GROUPS.items():
        for field in cls_.model_fields:
            flat = cls_.flat_prefix + field
            if flat in names:  # a flat name must say which setting it is
                raise AssertionError(f"settings: flat name {flat!r} is not unique")
            names[flat] = (group, field)
    return names


FLAT_NAMES: Mapping[str, tuple[str | None, str]] = MappingProxyType(_flat_names())
OPERATIONAL_FIELDS = frozenset(
    (cls_.flat_prefix if group else "") + field
    for group, cls_ in [(None, Settings), *GROUPS.items()]
    for field, info in cls_.model_fields.items()
    if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("operational")
)


def recorded(record: Mapping[str, Any] | None, name: str, default: Any = None) -> Any:
    """A setting by flat name from a recorded settings dict (nested, or flat as earlier versions wrote)."""
    record = record or {}
    group, field = FLAT_NAMES.get(name, (None, name))
    owner = record.get(group) if group else record
    if isinstance(owner, Mapping) and field in owner:
        return owner[field]
    return record.get(name, default)


def check_names(flat: dict[str, Any]) -> None:
    """``TypeError`` for a keyword that is not a setting, naming the closest one."""
    unknown = sorted(set(flat) - set(FLAT_NAMES))
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(FLAT_NAMES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"{name!r} is not a setting{hint}")
