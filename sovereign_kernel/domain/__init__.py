"""domain — the contracts and the facts everything else shares: pydantic schemas (``schemas``),
settings (``settings``), text utilities (``text``), the question's aspects (``aspects``), ids and
content hashes (``ids``) and the error tree (``errors``).

May import: nothing of the kernel (the bottom layer); third-party only pydantic, pydantic-settings
and scikit-learn's stop-word list.
"""
