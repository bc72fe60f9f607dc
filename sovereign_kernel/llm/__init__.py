"""llm — model sessions for the LLM variants of the agents: client pool, usage meter + token
budget, per-run response cache, providers (NIM), answer schemas.

``session.LLMSession`` orchestrates ``clients.ClientPool`` (one client per model, structured
runnables, retries, warm-up), ``usage.UsageMeter`` (per-role counters, fallbacks, the token
budget; ``usage.UsageHandler`` feeds it every request) and ``response_cache.ResponseCache``.
``retries`` decides what is retried and how long to wait (``Retry-After``); ``remote_embeddings``
makes a remote embedder retried, metered and failing with one typed error; ``providers`` builds the
NIM clients and redacts keys; ``answers`` reads model answers; ``schemas`` holds each role's answer
schema.

May import: domain only (and langchain_core / langchain_nvidia_ai_endpoints); never prompts,
agents, graph, app, runtime.
"""
