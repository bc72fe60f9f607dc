import json
from pathlib import Path

from sovereign_kernel.domain.ids import split_arxiv_version
from sovereign_kernel.domain.schemas import Manifest, json_schemas

SCHEMA_DIR = Path(__file__).parent.parent / "schemas"


def test_exported_json_schemas_match_the_models():
    schemas = json_schemas()
    on_disk = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.schema.json")}
    assert on_disk == schemas, "run: python -m sovereign_kernel.domain.schemas schemas"


def test_manifest_of_a_real_run_validates_against_the_contract(run_research):
    from conftest import COVERED_QUESTION

    manifest = run_research(COVERED_QUESTION).manifest
    Manifest.model_validate(manifest)
    assert manifest["provenance"]["contract"] == "source-provenance-v1"
    assert manifest["corrections"] == {"contract": "correction-record-v1", "status": "CURRENT", "count": 0, "entries": []}
    assert all(d["measurement"] for d in manifest["quality_dimensions"].values())


def test_arxiv_versions_collapse():
    assert split_arxiv_version("2405.18770v6") == ("2405.18770", 6)
    assert split_arxiv_version("2405.18770") == ("2405.18770", None)
    assert split_arxiv_version("astro-ph/0601001v2") == ("astro-ph/0601001", 2)
    assert split_arxiv_version("http://arxiv.org/abs/2212.08044v3") == ("2212.08044", 3)
