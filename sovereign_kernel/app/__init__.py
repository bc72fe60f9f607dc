"""app — the application layer, the only code that imports ``graph``: the ``Kernel`` and the
public Python API (``kernel``, ``api``, ``result``), the command line (``cli``, ``cli_runs``), the
reproduction gate (``reproduce``) and the evaluation (``evaluation``, ``metrics``).

May import: everything.
"""
