"""retrieval — finding the papers a question is about: the BM25 index (``bm25``), embeddings and
their on-disk caches (``embeddings``, ``vectors``), query planning (``planning``), candidate
ranking with the relevance gate (``ranking``), the question's facets (``facets``), and a PDF
library's page-anchored passages and which of them a question reads (``passages``).

May import: ``domain``. Nothing here knows LangGraph, models or storage of runs.
"""
