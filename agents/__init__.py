"""agents — the graph's nodes, one module per agent (retriever, extractor, verifier, drafter, skeptic,
validator, synthesizer, judge, reviser, publisher, owner_review). Each node reads its state, calls
the core, and returns a partial update; the algorithms live in the core packages.

May import: the core (``domain`` … ``runtime``), ``prompts`` and ``graph.state``; never
``graph.build``, ``graph.studio`` or ``app``.
"""
