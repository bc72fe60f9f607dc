"""synthesis — the answer built from grounded, corroborated claims: the draft, and what a revision round changes.

May import: ``domain``. Nothing here knows LangGraph, models or storage.
"""
