"""Prompts: one file per LLM role (``<role>.md``), loaded with importlib.resources, and the
blocks of run data they carry (``blocks.py``).

Text from outside — papers, the user's question, earlier model answers — is wrapped as
delimited data, and every prompt tells the model that instructions inside it are to be ignored.
May import: ``domain`` (and langchain_core's message types).
"""

from __future__ import annotations

import importlib.resources
import re
from types import MappingProxyType
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage


def _strip_header(text: str) -> str:
    """A prompt file without its leading ``#`` comment lines (which document the placeholders).
    Markdown headings further down are kept."""
    lines = text.splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines).strip() + "\n"


# Read once, when the package is imported (a server imports it at startup): rendering a prompt
# inside a run then reads no file, so no node blocks its event loop on the disk.
TEMPLATES = MappingProxyType({
    f.name[: -len(".md")]: _strip_header(f.read_text("utf-8"))
    for f in importlib.resources.files(__name__).iterdir() if f.name.endswith(".md")
})


def load_prompt(role: str) -> str:
    """``prompts/<role>.md``, without its leading comment lines."""
    try:
        return TEMPLATES[role]
    except KeyError:
        raise ValueError(f"no prompt for role {role!r}; known: {sorted(TEMPLATES)}") from None


# Fields that carry text from outside (papers, the user, earlier model answers) and the label of
# the block the prompts tell the model to treat as data. render_prompt wraps them itself.
UNTRUSTED_FIELDS = MappingProxyType({
    "question": "QUESTION", "abstract": "ABSTRACT", "claim": "CLAIM", "evidence": "EVIDENCE", "draft": "DRAFT",
    "claims": "CLAIMS", "reviews": "REVIEWS"})


def render_prompt(role: str, **fields: Any) -> list[BaseMessage]:
    """The role's prompt as [system, user] messages. Pass raw text: the UNTRUSTED_FIELDS are
    wrapped here (once, even if already wrapped). The template is split at its first line
    ``---`` *before* formatting, so data in a field can never move the split."""
    for name, label in UNTRUSTED_FIELDS.items():
        value = fields.get(name)
        if value is not None and not str(value).startswith(f"<<<BEGIN {label}>>>\n"):
            fields[name] = wrap_untrusted(str(value), label)
    system, sep, user = load_prompt(role).partition("\n---\n")
    if not sep:
        return [HumanMessage(system.format(**fields))]
    return [SystemMessage(system.strip().format(**fields)), HumanMessage(user.strip().format(**fields))]


_DELIM_RUN = re.compile(r"<{3,}|>{3,}")


def wrap_untrusted(text: str, label: str = "DATA") -> str:
    """Delimit untrusted text (paper abstracts, evidence) as data. Runs of three or more ``<`` or
    ``>`` inside it are spaced out, so the text cannot close the block and speak as instructions."""
    label = re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_").upper() or "DATA"
    body = _DELIM_RUN.sub(lambda m: " ".join(m.group()), str(text))
    return f"<<<BEGIN {label}>>>\n{body}\n<<<END {label}>>>"
