"""report.html as a reader's browser shows it: a research run through the CLI, then Debian's headless
Chromium takes a screenshot of the page and dumps its DOM, which is checked for the claims table, each
claim's source passage with its quoted span highlighted, claim links that land, nothing fetched from
anywhere, and paper text that stays text (a corpus paper whose title and abstract carry markup).

Chromium is not optional here: CI installs it (``.ci/run``), and a machine without it fails this file
with what to install rather than skipping the only test of the page in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import COVERED_QUESTION, SMALL_CORPUS

HOSTILE_PAPER = "2508.20570"
HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_CLAIM = "<img src=x onerror=alert(1)>"
CHROMIUM_TIMEOUT = 120
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None):
        for c in self.children:
            if isinstance(c, Node):
                if tag is None or c.tag == tag:
                    yield c
                yield from c.iter(tag)

    def find(self, tag: str, **attrs) -> Node | None:
        return next((n for n in self.iter(tag) if all(n.attrs.get(k) == v for k, v in attrs.items())), None)


class Tree(HTMLParser):
    """The DOM Chromium serialised, as a tree (Chromium writes every end tag but the void elements')."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.node)
        self.node.children.append(node)
        if tag not in VOID:
            self.node = node

    def handle_endtag(self, tag):
        node = self.node
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.node = node.parent

    def handle_data(self, data):
        self.node.children.append(data)


def norm(text: str) -> str:
    return " ".join(text.split())


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed: the report page is tested in a real browser. Install Debian's "
                    "package (`apt-get install chromium`; .ci/run does it in CI)", pytrace=False)
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", f"--user-data-dir={profile}", *args],
                          capture_output=True, timeout=CHROMIUM_TIMEOUT)


def hostile_corpus(path: Path) -> Path:
    """The small corpus with one kept paper's title and abstract carrying markup."""
    lines = []
    for line in SMALL_CORPUS.read_text().splitlines():
        record = json.loads(line)
        if record["id"] == HOSTILE_PAPER:
            record["title"] += " " + HOSTILE_TITLE
            record["abstract"] = record["abstract"].replace("dyslexic CLIP models", f"dyslexic CLIP {HOSTILE_CLAIM} models")
            assert HOSTILE_CLAIM in record["abstract"]
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, sovereign_home):
    """One research run through the CLI; its report (``--json``), manifest and output directory."""
    tmp = tmp_path_factory.mktemp("report-page")
    corpus, out = hostile_corpus(tmp / "corpus.jsonl"), tmp / "out"
    env = {**os.environ, "SOVEREIGN_HOME": str(sovereign_home)}
    env.pop("NVIDIA_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "sovereign_kernel", "research", COVERED_QUESTION, "--corpus",
                           str(corpus), "--out", str(out), "--json"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    manifest = json.loads((out / "manifest.json").read_text())
    return report, manifest, out, tmp


@pytest.fixture(scope="module")
def dom(run):
    _, _, out, tmp = run
    proc = chromium("--dump-dom", (out / "report.html").as_uri(), profile=tmp / "profile-dom")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    html = proc.stdout.decode("utf-8")
    assert html.lstrip().startswith("<!DOCTYPE html>") or html.lstrip().startswith("<html"), html[:200]
    tree = Tree()
    tree.feed(html)
    tree.close()
    return tree.root


def test_report_html_is_written_next_to_report_md(run):
    report, _, out, _ = run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert (out / "report.md").is_file() and page.startswith("<!DOCTYPE html>")
    assert report["report_id"] in page


def test_the_browser_renders_a_readable_page(run):
    _, _, out, tmp = run
    shot = tmp / "report.png"
    proc = chromium(f"--screenshot={shot}", "--window-size=1200,2000", "--hide-scrollbars",
                    (out / "report.html").as_uri(), profile=tmp / "profile-shot")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1200, 2000)
    from PIL import Image

    with Image.open(shot) as img:
        grey = img.convert("L")
        # a page of text: mostly light background, a good share of dark ink, and many grey levels (anti-aliased
        # glyphs, the inline figure) — a blank or error page has one or two
        histogram = grey.histogram()
    pixels = sum(histogram)
    assert sum(histogram[200:]) > 0.5 * pixels
    assert sum(histogram[:100]) > 0.01 * pixels
    assert sum(1 for n in histogram if n) > 60


def test_the_claims_table_has_a_row_per_claim_and_each_expands_to_its_highlighted_source(run, dom):
    report, manifest, _, _ = run
    numbers = list(manifest["claim_ids"])
    assert numbers == [f"C{i + 1}" for i in range(len(report["claims"]))] and numbers
    table = dom.find("table", id="claims")
    assert table is not None, "no claims table"
    rows = [tr for tr in table.iter("tr") if tr.attrs.get("id", "").startswith("claim-")]
    assert [tr.attrs["id"] for tr in rows] == [f"claim-{n}" for n in numbers]
    for tr, claim in zip(rows, report["claims"], strict=True):
        details = list(tr.iter("details"))
        assert len(details) == 1, tr.attrs["id"]
        summary = details[0].find("summary")
        assert summary is not None and norm(claim["text"]) in norm(summary.text())
        marks = [m for m in details[0].iter("mark") if "span" in m.attrs.get("class", "").split()]
        assert len(marks) == 1, tr.attrs["id"]
        assert norm(marks[0].text()) == norm(claim["source_span"]["text"]), tr.attrs["id"]
        # the passage around it: the run had the paper's text, so more than the span alone
        passage = marks[0].parent
        assert passage.tag == "blockquote" and len(norm(passage.text())) > len(norm(marks[0].text()))
        assert norm(passage.text()).find(norm(marks[0].text())) >= 0


def test_claim_links_from_the_answer_and_findings_land_on_claim_rows(run, dom):
    report, _, _, _ = run
    ids = {n.attrs["id"] for n in dom.iter() if "id" in n.attrs}
    local = [a.attrs["href"] for a in dom.iter("a") if a.attrs.get("href", "").startswith("#")]
    assert local and all(h[1:] in ids for h in local), sorted({h for h in local if h[1:] not in ids})
    for section in ("answer", "findings"):
        node = dom.find("section", id=section)
        assert node is not None, section
        cited = set(re.findall(r"\bC\d+\b", node.text()))
        linked = {a.text() for a in node.iter("a") if a.attrs.get("href", "").startswith("#claim-C")}
        assert cited and cited == linked, (section, cited - linked)
    answer_rows = {f"#claim-C{i + 1}" for i, c in enumerate(report["claims"])
                   if any(c["id"] in s["claim_ids"] for s in report["answer"]["sentences"])}
    assert answer_rows <= {a.attrs["href"] for a in dom.find("section", id="answer").iter("a")}


def test_nothing_is_fetched_from_anywhere(run, dom):
    _, _, out, _ = run
    assert not list(dom.iter("script")) and not list(dom.iter("link"))
    for tag in ("iframe", "object", "embed", "frame", "base", "video", "audio", "source"):
        assert not list(dom.iter(tag)), tag
    images = list(dom.iter("img"))
    from sovereign_kernel.publishing.figures import REPORT_FIGURES

    assert len(images) == len(REPORT_FIGURES)  # every figure of the report, inline
    assert all(img.attrs["src"].startswith("data:image/png;base64,") for img in images)
    for name, *_ in REPORT_FIGURES:
        assert (out / name).is_file()
    for style in dom.iter("style"):
        css = style.text().lower()
        assert "url(" not in css and "@import" not in css and "@font-face" not in css
    for node in dom.iter():
        assert not any(k.startswith("on") for k in node.attrs), (node.tag, node.attrs)
        assert "url(" not in node.attrs.get("style", "").lower()
    for a in dom.iter("a"):
        assert re.match(r"^(#|https?://)", a.attrs["href"]), a.attrs["href"]
    csp = [m for m in dom.iter("meta") if m.attrs.get("http-equiv", "").lower() == "content-security-policy"]
    assert csp and "default-src 'none'" in csp[0].attrs["content"]


def test_paper_text_stays_text(run, dom):
    report, _, _, _ = run
    hostile_ref = [r for r in report["references"] if r["id"] == HOSTILE_PAPER]
    assert hostile_ref and HOSTILE_TITLE in hostile_ref[0]["title"]  # the hostile paper made it into the report
    references = dom.find("section", id="references")
    assert references is not None and HOSTILE_TITLE in references.text()
    hostile_claims = [c for c in report["claims"] if HOSTILE_CLAIM in c["source_span"]["text"]]
    assert hostile_claims, "the run kept no claim quoting the hostile sentence"
    assert HOSTILE_CLAIM in dom.find("table", id="claims").text()
    assert not list(dom.iter("script"))
    assert all(img.attrs.get("src", "").startswith("data:") for img in dom.iter("img"))
    title = dom.find("title")
    assert title is not None and report["title"][:40] in title.text()


def test_references_link_only_web_addresses(run, dom):
    report, _, _, _ = run
    references = dom.find("section", id="references")
    items = list(references.iter("li"))
    assert len(items) == len(report["references"])
    for li, ref in zip(items, report["references"], strict=True):
        links = [a.attrs["href"] for a in li.iter("a")]
        assert links == ([ref["url"]] if re.match(r"^https?://", ref["url"]) else []), (links, ref["url"])


# ---- the page without a browser: what it shows when it has less to go on ---------------------------

def parse(page: str) -> Node:
    tree = Tree()
    tree.feed(page)
    tree.close()
    return tree.root


@pytest.fixture(scope="module")
def covered(run_research):
    return run_research(COVERED_QUESTION)


def source_marks(root: Node) -> dict[str, Node]:
    return {tr.attrs["id"]: next(m for m in tr.iter("mark") if m.attrs.get("class") == "span")
            for tr in root.find("table", id="claims").iter("tr") if tr.attrs.get("id", "").startswith("claim-")}


def test_a_page_without_the_papers_quotes_each_span_alone_and_says_so(covered):
    from sovereign_kernel.publishing.export import export_report

    root = parse(export_report(covered.report, covered.manifest, "html"))  # as `export` makes it from the store
    marks = source_marks(root)
    assert len(marks) == len(covered.report.claims)
    for claim, mark in zip(covered.report.claims, marks.values(), strict=True):
        assert mark.text() == claim.source_span.text and mark.parent.text() == claim.source_span.text
    assert "made without the paper's text" in root.find("table", id="claims").text()
    # the run's own page has the passages
    with_papers = source_marks(parse(covered.export("html")))
    assert all(len(m.parent.text()) > len(m.text()) for m in with_papers.values())


def test_a_body_span_is_shown_in_the_passage_it_was_read_from(covered):
    from sovereign_kernel.domain.fulltext import Passage
    from sovereign_kernel.publishing.report_page import report_page

    report = covered.report
    text = ("Methods. We trained for 3 epochs. Results. Accuracy rose from 41% to 77% under attack </blockquote>"
            "<script>alert(1)</script>. Discussion follows.")
    quote = "Accuracy rose from 41% to 77% under attack </blockquote><script>alert(1)</script>."
    at = 5000 + text.index(quote)
    passage = Passage(paper_id="10.1/x", index=0, start=5000, end=5000 + len(text), page=7, end_page=7, text=text)
    claim = report.claims[0].model_copy(update={"paper_id": "10.1/x", "source_span": report.claims[0].source_span.model_copy(
        update={"start": at, "end": at + len(quote), "text": quote, "location": "body", "page": 7})})
    root = parse(report_page(report.model_copy(update={"claims": [claim], "passages_read": [passage]}), covered.manifest))
    mark = source_marks(root)["claim-C1"]
    assert mark.text() == quote and mark.parent.text() == text
    assert not list(root.iter("script")) and "p. 7" in mark.parent.parent.text()


def test_only_web_addresses_become_links(covered):
    from sovereign_kernel.publishing.report_page import report_page

    report = covered.report
    refs = [report.references[0].model_copy(update={"url": "javascript:alert(1)", "title": HOSTILE_TITLE})]
    root = parse(report_page(report.model_copy(update={"references": refs}), covered.manifest))
    hrefs = [a.attrs["href"] for a in root.iter("a")]
    assert "javascript:alert(1)" not in hrefs and all(re.match(r"^(#|https?://)", h) for h in hrefs)
    assert HOSTILE_TITLE in root.find("section", id="references").text() and not list(root.iter("script"))
