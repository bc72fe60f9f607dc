"""tribunal — the measured reviews (SKEPTIC, VALIDATOR, SYNTHESIZER), the judge and the policy.

May import: ``domain``, ``synthesis``, ``verification``. The LLM reviewers' answers come in as
plain values; nothing here calls a model or knows LangGraph.
"""
