"""LaTeX in arXiv titles and abstracts shown as text (issue 15 #9). The inputs are excerpts of real
abstracts in the bundled corpus (arXiv metadata keeps the authors' LaTeX)."""

from __future__ import annotations

import pytest

from sovereign_kernel.sources.latex_text import latex_to_text

CASES = [
    (r"an attack success rate of 83.5\%, surpassing prior state-of-the-art by 46\%.",
     "an attack success rate of 83.5%, surpassing prior state-of-the-art by 46%."),
    (r"greatly reduces 33\% $\sim$ 47\% FLOPs", "greatly reduces 33% ∼ 47% FLOPs"),
    (r"with an $\ell_1$ deviation prior", "with an ℓ_1 deviation prior"),
    (r"we propose $\textbf{BaThe}$ ($\textbf{Ba}$ckdoor $\textbf{T}$rigger S$\textbf{h}$i$\textbf{e}$ld)",
     "we propose BaThe (Backdoor Trigger Shield)"),
    (r"we propose \textit{Sequence-Level Preference Optimization} for VLM (\textit{SPO-VLM})",
     "we propose Sequence-Level Preference Optimization for VLM (SPO-VLM)"),
    (r"mean angular errors of 2.49$^\circ$, 3.22$^\circ$", "mean angular errors of 2.49°, 3.22°"),
    (r"stressing extreme pose (>45{\deg})", "stressing extreme pose (>45°)"),
    (r"We present M\textsuperscript{4}Fuse", "We present M4Fuse"),
    (r"Code and datasets are released on \href{https://sy-vla.github.io/}{project page}.",
     "Code and datasets are released on project page (https://sy-vla.github.io/)."),
    (r"At its core is \Model (\modelAbbr), a framework", "At its core is Model (modelAbbr), a framework"),
    (r"Schr\"odinger and Poincar\'e", "Schrödinger and Poincaré"),
    (r"budget $\epsilon = 8/255$ and $10^{-3}$", "budget ε = 8/255 and 10^-3"),
]


@pytest.mark.parametrize("raw, shown", CASES)
def test_latex_in_an_abstract_reads_as_text(raw, shown):
    assert latex_to_text(raw) == shown


def test_text_without_latex_and_money_stay_as_they_are():
    plain = "Costs fell from $5 to $10 per run ~ 30% of the budget {as reported}."
    assert latex_to_text(plain) == plain
    assert latex_to_text("no markup at all") == "no markup at all"
