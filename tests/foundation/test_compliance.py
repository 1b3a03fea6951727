"""docs/compliance.md is generated from the registries: it must be fresh, and no article may lose
its last carrier."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
compliance = runpy.run_path(str(ROOT / "scripts" / "compliance.py"))


def test_the_compliance_document_is_generated_from_the_code_as_it_is() -> None:
    fresh = compliance["render"]()
    on_disk = (ROOT / "docs" / "compliance.md").read_text(encoding="utf-8")
    lost = compliance["carried_articles"](on_disk) - compliance["carried_articles"](fresh)
    assert not lost, f"these articles lost their last carrier: {sorted(lost)}"
    assert fresh == on_disk, "docs/compliance.md is stale: run python scripts/compliance.py --write"


def test_article_references_are_read_as_written() -> None:
    articles_of = compliance["articles_of"]
    assert articles_of("(Art. 13-14)") == {13, 14}
    assert articles_of("Art. 15, 21") == {15, 21}
    assert articles_of("Art. 14, Art. 50") == {14, 50}
    assert articles_of("Art. 6-9") == {6, 7, 8, 9}
    assert articles_of("no article") == set()
