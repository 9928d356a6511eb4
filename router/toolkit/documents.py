"""Documents as text: what a backend without Claude's document blocks can still be given.

Claude takes documents as plain text, as base64 files (PDFs, but also `text/*` files sent
base64 by some clients) or by URL. Most backends take only text and perhaps files, so a
provider first asks for the document's text, with its title and context as a heading, and
falls back to a file part or a note only when the document is binary.
"""

from __future__ import annotations

import base64
import binascii

from router.conversation import DocumentBlock


def document_text(block: DocumentBlock) -> str | None:
    """The document's text under a heading of its title and context; None when it has no text
    (a binary file such as a PDF, or a document given by URL)."""
    text = block.text if block.text is not None else _decoded(block)
    if text is None:
        return None
    heading = document_heading(block)
    return f"{heading}\n\n{text}" if heading else text


def document_heading(block: DocumentBlock) -> str:
    """The title and the context, one per line (empty when neither is given)."""
    return "\n".join(part for part in (block.title, block.context) if part)


def _decoded(block: DocumentBlock) -> str | None:
    """A base64 document whose media type is text, decoded; None for binary or broken data."""
    if block.data is None or not (block.media_type or "").startswith("text/"):
        return None
    try:
        return base64.b64decode(block.data).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
