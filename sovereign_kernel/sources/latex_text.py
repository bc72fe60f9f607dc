"""LaTeX in titles and abstracts as the text a reader sees: ``42.07\\%`` → ``42.07%``, ``$\\ell_2$`` → ``ℓ_2``,
``\\textbf{BaThe}`` → ``BaThe``.

arXiv metadata keeps authors' LaTeX (about one abstract in seven of the bundled corpus has some).
The forms abstracts use are rewritten by rule; an author's own macro (``\\Model``) keeps its name
without the backslash, since what it stood for is not in the text. Rules, not pylatexenc's converter:
that takes ~15 ms an abstract (8 s for the bundled corpus's LaTeX at every cold load, where the rules
take well under a second for all of it), drops authors' macros with their meaning, and raises on some
malformed inputs (``\\href`` missing an argument).
"""

from __future__ import annotations

import re
import unicodedata
from types import MappingProxyType

SYMBOLS = MappingProxyType({
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "ell": "ℓ", "sim": "∼", "approx": "≈", "times": "×", "cdot": "·", "pm": "±", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "infty": "∞", "rightarrow": "→", "to": "→", "leftarrow": "←",
    "Rightarrow": "⇒", "uparrow": "↑", "downarrow": "↓", "in": "∈", "sum": "∑", "partial": "∂", "nabla": "∇",
    "ldots": "…", "dots": "…", "cdots": "⋯", "circ": "∘", "star": "⋆", "%": "%", "&": "&", "_": "_", "#": "#",
    "$": "$", "{": "{", "}": "}", "textasciitilde": "~", "textbar": "|", "textless": "<", "textgreater": ">",
    "deg": "°", "textdegree": "°", "degree": "°", "checkmark": "✓", "dagger": "†", "textemdash": "—",
    "textendash": "–", "quad": " ", "qquad": " ", "newline": " ", "noindent": "", "xspace": "",
})
STYLE_MACROS = ("textbf", "textit", "emph", "texttt", "textrm", "textsc", "textsf", "underline", "mathrm",
                "mathbf", "mathit", "mathcal", "mathbb", "mathsf", "mathtt", "boldsymbol", "text", "mbox", "url",
                "textsuperscript", "textsubscript", "textnormal", "operatorname", "bm", "hbox")
ACCENTS = MappingProxyType({"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303", "c": "\u0327", "v": "\u030c",
           "=": "\u0304", ".": "\u0307", "u": "\u0306", "H": "\u030b"})

_STYLE = re.compile(r"\\(?:%s)\s*\{([^{}]*)\}" % "|".join(STYLE_MACROS))
_OLD_STYLE = re.compile(r"\{\\(?:em|bf|it|tt|sc|rm)\s+([^{}]*)\}")
_ACCENT = re.compile(r"\\([`'\"^~=.]|[cvuH](?=[{\s]))\s*\{?([A-Za-z])\}?")
_SYMBOL = re.compile(r"\\([A-Za-z]+|[%&_#${}])")
_MATH = re.compile(r"(?<!\\)\$([^$]*)(?<!\\)\$")
_HREF = re.compile(r"\\href\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_FOOTNOTE = re.compile(r"\\footnote\s*\{([^{}]*)\}")
_DEGREE = re.compile(r"\^\s*\{?\\circ\}?")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_GROUPED_CHAR = re.compile(r"(?<!\\)\{(\S)\}")  # "45{°}" once its macro is a symbol


def _accent(m: re.Match) -> str:
    return unicodedata.normalize("NFC", m.group(2) + ACCENTS[m.group(1)])


def _symbol(m: re.Match) -> str:
    return SYMBOLS.get(m.group(1), m.group(1))  # an author's macro: its name


def _math(m: re.Match) -> str:
    """Inline math without its dollars and grouping braces; "$5 and $10" is money, not math."""
    inner = m.group(1)
    if not (re.search(r"[\\^_{}=<>+]", inner) or (inner and len(inner) <= 12 and " " not in inner.strip())):
        return m.group(0)
    return re.sub(r"(?<!\\)[{}]", "", inner)


def latex_to_text(text: str) -> str:
    """``text`` with its LaTeX rendered as plain text; text without LaTeX comes back unchanged."""
    if "\\" not in text and "$" not in text:
        return text
    text = _HREF.sub(r"\2 (\1)", text)
    text = _FOOTNOTE.sub(r" (\1)", text)
    text = _DEGREE.sub("°", text)
    text = _FRAC.sub(r"\1/\2", text)
    for _ in range(3):  # nested styles: \textbf{\textit{x}}
        text = _OLD_STYLE.sub(r"\1", _STYLE.sub(r"\1", text))
    text = _ACCENT.sub(_accent, text)
    # $\ell_2$ → \ell_2 (symbols next), $10^{-3}$ → 10^-3
    text = _MATH.sub(_math, text)
    text = _GROUPED_CHAR.sub(r"\1", _SYMBOL.sub(_symbol, text))
    return text.replace("``", "“").replace("''", "”")

