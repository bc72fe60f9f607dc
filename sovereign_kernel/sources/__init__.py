"""sources — where papers come from: the local corpus (JSONL files, PDFs, folders of them;
``corpus``), a library of PDFs read in full (``library`` over ``pdf``: ``pdf_text`` cleans the text,
``pdf_meta`` reads title, DOI and abstract, ``pdf_worker`` parses in separate processes), and the
arXiv API with its rate limit and response cache (``arxiv``) and its PDFs (``arxiv_pdf``).

May import: ``domain``.
"""
