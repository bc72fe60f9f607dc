"""graph — the state and its reducers (``state``: below the agents, which read it), the wiring that
reads like the pipeline diagram (``build``), and the graph LangGraph Studio serves (``studio``).
"""
