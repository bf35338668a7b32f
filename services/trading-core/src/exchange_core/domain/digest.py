"""A stable digest of a string for the state hash (str hashing is randomized per process)."""

import hashlib
from typing import Final

DIGEST_BYTES: Final = 7


def text_digest(text: str) -> int:
    """A 56-bit BLAKE2b digest of the UTF-8 of ``text``, the same in every process."""
    raw = hashlib.blake2b(text.encode(), digest_size=DIGEST_BYTES).digest()
    return int.from_bytes(raw, "little")
