"""The key of an output's inputs: equal keys, equal bytes."""

from __future__ import annotations

import hashlib


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
