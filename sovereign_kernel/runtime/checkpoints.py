"""Durable runs: the LangGraph checkpointer a run is saved in.

SQLite (``<SOVEREIGN_HOME>/checkpoints.sqlite``) by default; Postgres when
``SOVEREIGN_POSTGRES_URL`` is set, for a deployment several machines share. Every superstep
is saved, so a run killed at any node resumes from its last checkpoint with the finished
nodes (and the finished branches of a parallel step) not run again.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import asynccontextmanager
from typing import AsyncIterator

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from sovereign_kernel.domain import aspects, facets, rounds, schemas
from sovereign_kernel.domain.dbfiles import data_file_error, is_sqlite_error
from sovereign_kernel.domain.settings import Settings

# The state holds our pydantic contracts; allow exactly those (and LangGraph's own safe types)
# to be revived from a checkpoint, rather than any importable class.
STATE_TYPES = (
    *(getattr(schemas, name) for name in (
        "Paper", "ScoredPaper", "SearchHit", "Evidence", "SourceSpan", "Claim", "Draft", "RubricItem", "Review",
        "TribunalResult", "RunResults", "Reference", "Report", "OwnerDecision", "Publication", "Sufficiency")),
    aspects.Aspect, facets.Facet, facets.FacetPair, facets.JointCoverage, rounds.KeptRound,
)
SERDE = JsonPlusSerializer(allowed_msgpack_modules=[(t.__module__, t.__name__) for t in STATE_TYPES])


CHECKPOINTS_FILE = "checkpoints.sqlite"


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[object]:
    url = settings.postgres_url.get_secret_value() if settings.postgres_url else None
    if url:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(url, serde=SERDE) as saver:
            await saver.setup()  # idempotent: creates or migrates the checkpoint tables
            yield saver
    else:
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = await asyncio.to_thread(lambda: settings.data_dir() / CHECKPOINTS_FILE)
        # sqlite3 errors of this file become one line naming it; a corrupt file is never replaced
        # (it holds every run's progress). Raw sqlite3 errors reaching here come from the saver:
        # the other SQLite files (store, caches) name themselves in their own errors.
        try:
            async with aiosqlite.connect(str(path)) as conn:
                # WAL + synchronous=NORMAL: a commit no longer waits for fsync (the writes were ~2/3 of
                # an offline run's wall time), yet a killed process loses nothing — only a power cut
                # can drop the last transactions, and a run then resumes from an earlier step.
                await conn.execute("PRAGMA journal_mode=WAL")
                await conn.execute("PRAGMA synchronous=NORMAL")
                yield AsyncSqliteSaver(conn, serde=SERDE)
        except sqlite3.DatabaseError as exc:
            if not is_sqlite_error(exc):
                raise
            raise data_file_error(exc, path, "the checkpoint database") from None


async def prune_history(saver, thread_id: str) -> None:
    """Keep only the latest checkpoint (and its writes) per namespace of a run that has ended.

    A finished run is read (``show``, the final state) from its last checkpoint; the earlier
    ones only served resuming, and each holds the whole state, ~3 MB a run in all. Postgres
    has LangGraph's own ``aprune(keep_latest)``; the SQLite saver does not implement it, so
    the same is done here in one transaction (freed pages are reused by later runs).
    """
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if not isinstance(saver, AsyncSqliteSaver):
        await saver.aprune([thread_id], strategy="keep_latest")
        return
    async with saver.lock:
        await saver.conn.execute(
            "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id NOT IN ("
            " SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ? GROUP BY checkpoint_ns)",
            (thread_id, thread_id))
        await saver.conn.execute(
            "DELETE FROM writes WHERE thread_id = ? AND NOT EXISTS (SELECT 1 FROM checkpoints c"
            " WHERE c.thread_id = writes.thread_id AND c.checkpoint_ns = writes.checkpoint_ns"
            " AND c.checkpoint_id = writes.checkpoint_id)", (thread_id,))
        await saver.conn.commit()
