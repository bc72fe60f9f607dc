"""runtime — what a graph run stands on: the run context, the workspace that builds and shares
resources (corpora, indexes, embedders, caches; keyed by content), checkpointers, progress events.

May import every core package below it (``domain``, ``sources``, ``retrieval``, ``verification``,
``llm``, ``synthesis``, ``tribunal``, ``publishing``) and LangGraph; never ``agents``, ``graph``
or ``app``.
"""
