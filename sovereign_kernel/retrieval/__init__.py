"""retrieval — finding the papers a question is about: the BM25 index (``bm25``), embeddings and
their on-disk caches (``embeddings``, ``vectors``), query planning (``planning``), and candidate
ranking with the relevance gate (``ranking``).

May import: ``domain``. Nothing here knows LangGraph, models or storage of runs.
"""
