"""What the CLI prints is text, never terminal commands.

Questions, report text, correction reasons and ids come from users, papers, models and the store —
none of them trusted to drive a terminal. ``printable`` removes escape sequences (which can clear the
screen, retitle the window, rewrite lines or hide text), every other C0/C1 control character but
newline and tab, and the Unicode bidirectional overrides (which reorder what is shown).
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"                    # CSI: ESC [ params final (cursor, erase, colour)
    r"|\x1b[\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC, up to BEL or ST
    r"|\x1b[ -/]*[0-~]?"                           # any other ESC sequence (charset, keypad, reset), or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"                     # the 8-bit CSI
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` as a terminal shows it literally: newlines and tabs kept, ``\\r\\n`` as a newline."""
    return _CONTROLS.sub("", _ESCAPES.sub("", str(text).replace("\r\n", "\n")))
