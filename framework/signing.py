"""The session cookie's serializer: itsdangerous, without rebuilding it per cookie.

``URLSafeTimedSerializer`` creates a new signer, and derives the HMAC key again, for every
``dumps`` and ``loads``. For a session cookie that is the same work on every request, so
this subclass keeps one signer per salt and one derived key per secret. Cookies are
byte-for-byte what the plain serializer produces.
"""

from __future__ import annotations

import typing as t

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import want_bytes


class CachingTimestampSigner(TimestampSigner):
    """A timestamp signer that derives each secret's key once."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[bytes, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        raw = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(raw)
        if derived is None:
            derived = super().derive_key(raw)
            self._derived[raw] = derived
        return derived


class CachingSerializer(URLSafeTimedSerializer):
    """``URLSafeTimedSerializer`` that reuses its signer for each salt."""

    default_signer = CachingTimestampSigner

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._signers: dict[str | bytes | None, TimestampSigner] = {}

    def make_signer(self, salt: str | bytes | None = None) -> TimestampSigner:
        signer = self._signers.get(salt)
        if signer is None:
            signer = t.cast(TimestampSigner, super().make_signer(salt))
            self._signers[salt] = signer
        return signer
