"""router.toolkit.documents: a document's text (inline or base64 `text/*`) under its heading."""

from __future__ import annotations

import base64

import pytest

from router.conversation import DocumentBlock
from router.toolkit.documents import document_heading, document_text


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (DocumentBlock(media_type="text/plain", text="notes"), "notes"),
        (DocumentBlock(media_type="text/plain", text="notes", title="T", context="C"), "T\nC\n\nnotes"),
        (DocumentBlock(media_type="text/markdown", data=b64("# hé")), "# hé"),
        (DocumentBlock(media_type="text/csv", data=b64("a,b"), title="data.csv"), "data.csv\n\na,b"),
        (DocumentBlock(media_type="application/pdf", data=b64("%PDF-1.7")), None),
        (DocumentBlock(media_type="text/plain", data="!!not base64!!"), None),
        (DocumentBlock(media_type="text/plain", data=base64.b64encode(b"\xff\xfe").decode()), None),
        (DocumentBlock(url="https://example.com/a.pdf", title="A"), None),
    ],
)
def test_document_text(block: DocumentBlock, expected: str | None) -> None:
    assert document_text(block) == expected


def test_document_heading() -> None:
    assert document_heading(DocumentBlock(url="u", context="why")) == "why"
    assert document_heading(DocumentBlock(url="u")) == ""
