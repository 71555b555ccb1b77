"""What a file really is, from its first bytes: the name and the declared type are only claims."""

from __future__ import annotations

import filetype

# The types accepted anywhere, with the file name extensions that may honestly go with them.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
}
# filetype reads at most this many leading bytes.
HEAD_BYTES = 262


def sniff(head: bytes) -> str | None:
    """The MIME type of an accepted kind of file whose leading bytes are `head`, or None."""
    kind = filetype.guess(head) if head else None
    if kind is None or kind.mime not in EXTENSIONS:
        return None
    return str(kind.mime)
