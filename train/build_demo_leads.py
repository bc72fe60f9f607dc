"""The bundled demo corpus's lead vectors, shipped so a first run on it embeds nothing.

    python train/build_demo_leads.py

Runs in the project's own environment. Embeds every demo paper's lead (``retrieval.dense``: title +
the abstract's first sentence) with the local MiniLM the retriever's dense stage uses, and writes
``sovereign_kernel/data/demo_leads.npz``: float16 vectors, the digest of the leads they were built
from and the model id. The retriever reads them only when both still match (a changed corpus or
model is embedded again, through the vector cache); ``tests/test_dense_candidates.py`` re-embeds a
sample and checks the shipped rows against it. Rebuild after changing the demo corpus, the lead or
the embedder.
"""

from __future__ import annotations

import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.domain.settings import Settings  # noqa: E402
from sovereign_kernel.retrieval.dense import PREBUILT_LEADS, lead_text, save_prebuilt  # noqa: E402
from sovereign_kernel.runtime.workspace import Workspace  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=home, corpus=None)
        workspace = Workspace()
        try:
            res = workspace.resources(settings)
            papers = res.corpus.papers
            started = time.perf_counter()
            vectors = res.verifier_vectors.embed([lead_text(p) for p in papers], kind="passage")
            took = time.perf_counter() - started
            out = Path(str(resources.files("sovereign_kernel.data").joinpath(PREBUILT_LEADS)))
            save_prebuilt(out, papers, vectors, res.verifier_vectors.model_id)
        finally:
            workspace.close()
    print(f"{len(papers)} leads embedded in {took:.1f} s ({res.verifier_vectors.model_id}); "
          f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
