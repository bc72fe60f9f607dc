"""Claim-cue scoring: how much a sentence reads like a finding rather than background or method.

Findings, comparisons and numbers score up; background, aim statements, a contrast that sets
up a gap, the abstract's opening sentence and hedging score down. On SciFact train's rationales
(``bench/extraction_scifact.py``) a rationale sentence is among an abstract's 3 best-scored
sentences for 86.9% of (claim, abstract) pairs.
"""

from __future__ import annotations

import re

import numpy as np

from sovereign_kernel.domain.text import HEDGE_RE, NUMBER_RE

_FINDING = re.compile(
    r"\b(we (show|find|found|demonstrate|observe|reveal|prove)|results? (show|demonstrate|indicate|reveal|suggest)"
    r"|experiments? (show|demonstrate|reveal)|outperform\w*|achiev\w*|improv\w*|reduc\w*|increas\w*|decreas\w*"
    r"|significant\w*|vulnerab\w*|susceptib\w*|fail\w*|degrad\w*|drop\w*|superior|state-of-the-art|effective\w*"
    r"|robust\w*|success rates?|accuracy|boost\w*|mitigat\w*)\b",
    re.I,
)
_COMPARISON = re.compile(r"\b(than|compared (to|with)|relative to|versus|vs\.?|over the|outperform\w*|better|worse)\b", re.I)
_METHOD = re.compile(r"\b(we (propose|introduce|present|develop|design)|this (paper|work) (proposes|introduces|presents))\b", re.I)
_BACKGROUND = re.compile(
    r"\b(recent(ly)?|have (been|shown|become)|has (been|become)|remains? (a |an )?(open|challenging|unclear|unexplored)"
    r"|is (widely|commonly|increasingly)|however, (existing|current|prior)|existing (methods|approaches|works?))\b",
    re.I,
)
# Aim and scope statements ("In this paper, we study ...", "To determine whether ...") say what was
# done, not what was found, unless they report a result ("... we show that"). On SciFact train's
# rationales (bench/extraction_scifact.py) this penalty lifts top-3 hits 0.863 -> 0.869.
_AIM = re.compile(
    r"\b((in )?this (study|paper|work|article|review)|we (aim|aimed|sought|address|addressed|investigate|investigated"
    r"|study|studied|explore|explored|examine|examined|hypothesi[sz]ed?)|to (investigate|determine|assess|evaluate"
    r"|examine|explore|test whether|identify))\b",
    re.I,
)
_REPORTS_RESULT = re.compile(r"\b(we (show|find|found|demonstrate|observe|reveal|prove)|(shows?|showed|demonstrated?|reveal(s|ed)?) that)\b", re.I)
_OPENS_CONTRAST = re.compile(r"^(however|although|while|despite|yet)\b", re.I)
_LEADING_MARKER = re.compile(
    r"^(moreover|furthermore|in addition|additionally|finally|specifically|overall|importantly|notably"
    r"|as a result|in particular|consequently|thus|therefore|besides|further|first|firstly|second|secondly|third|thirdly|lastly|then),\s+",
    re.I,
)


def cue_score(sentence: str, position: int) -> float:
    """0..1: how much a sentence reads like a finding rather than background or method."""
    words = len(sentence.split())
    score = 0.15
    score += 0.35 if _FINDING.search(sentence) else 0.0
    score += 0.2 if _COMPARISON.search(sentence) else 0.0
    score += 0.2 if NUMBER_RE.search(sentence) else 0.0
    score += 0.1 if _METHOD.search(sentence) else 0.0
    score -= 0.25 if _BACKGROUND.search(sentence) else 0.0
    score -= 0.2 if _AIM.search(sentence) and not _REPORTS_RESULT.search(sentence) else 0.0
    score -= 0.1 if _OPENS_CONTRAST.match(sentence) else 0.0  # 'However, X ...' sets up a gap, not a result
    score -= 0.15 if position == 0 else 0.0  # abstracts open with motivation
    score -= 0.05 if HEDGE_RE.search(sentence) else 0.0
    score -= 0.3 if words < 8 else (0.1 if words > 70 else 0.0)
    return float(np.clip(score, 0.0, 1.0))


def claim_text(span_text: str) -> str:
    """The claim as stated: the sentence without a leading discourse marker."""
    text = _LEADING_MARKER.sub("", span_text)
    return text[:1].upper() + text[1:]


_PRIOR_WORK = ("existing ", "current ", "prior ", "previous ", "conventional ", "traditional ")


# A year ("accepted at IEEE S&P 2024", "since 2017") dates a sentence; it is not a measured result.
_YEARS = re.compile(r"(?<![\w.])(?:19|20)\d\d(?![\w%]|\.\d)")


def states_no_finding(text: str, opens_abstract: bool) -> bool:
    """Does a claim state background, motivation or an aim rather than a finding? "X have become
    ...", "In this paper, we study ...", "Existing methods ...", or an abstract's opening sentence
    that reports nothing (no finding cue, no number). The same cues the extraction penalises."""
    reports = bool(_REPORTS_RESULT.search(text))
    return ((_BACKGROUND.search(text) or _AIM.search(text)) and not reports) or text.lower().startswith(_PRIOR_WORK) \
        or (opens_abstract and not _FINDING.search(text) and not NUMBER_RE.search(_YEARS.sub(" ", text)))
