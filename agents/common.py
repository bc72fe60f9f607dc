"""Helpers every agent shares."""

from __future__ import annotations

from langgraph.config import get_stream_writer


def progress(stage: str, **data) -> None:
    """Emit a progress event on LangGraph's custom stream (CLI, notebooks and Studio show it)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # outside a graph run, e.g. a unit test calling a helper directly
        return
    writer({"stage": stage, **data})


def current_claims(state: dict) -> list:
    """Claims of the papers that passed the gate this round, minus those the reviser dropped."""
    kept = {p.id for p in state.get("papers", [])}
    dropped = set(state.get("dropped_claim_ids", []))
    return [c for c in state.get("claims", []) if c.paper_id in kept and c.id not in dropped]


def verified_claims(state: dict) -> list:
    return [c for c in current_claims(state) if c.verified]
