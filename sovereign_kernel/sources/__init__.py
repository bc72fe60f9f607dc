"""sources — where papers come from: the local corpus (JSONL files or folders; ``corpus``) and the
arXiv API with its rate limit and response cache (``arxiv``).

May import: ``domain``.
"""
