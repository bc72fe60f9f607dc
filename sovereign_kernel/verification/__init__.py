"""verification — claims and their grounding: claim-cue scoring (``claim_cues``), claim extraction
and the check of a model's quoted spans (``claim_extraction``, ``spans``), the calibrated sentence
verifier (``sentence_verifier``, ``features``, ``calibration``), the seed TF-IDF baseline
(``baseline``), and scoring a run's claims with the labels an LLM verifier may give (``scoring``).

May import: ``domain``, ``retrieval``.
"""
