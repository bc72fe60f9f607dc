"""publishing — what a run hands to a reader and keeps: the report's assembly (``assembly``), its
Markdown and HTML (``markdown``, ``html``), the figure (``figures``), the ``paper-manifest-v1.1``
manifest (``manifest``), corrections (``corrections``) and the publication store (``store``).

May import: ``domain``, ``verification``, ``synthesis``, ``tribunal``.
"""
