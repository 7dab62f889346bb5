"""The AES callback crypto DingTalk and WeCom share (WeCom 加解密方案 /document/path/90968; DingTalk's HTTP
event subscription uses the same scheme with JSON bodies).

    msg_signature = sha1(sorted([token, timestamp, nonce, encrypt]) joined), lowercase hex
    AESKey = b64decode(EncodingAESKey + "="); AES-256-CBC, IV = key[:16], PKCS#7 to 32 bytes
    plaintext = random(16) | msg_len(4, network order) | msg | receive_id

The cipher itself is wechatpy's (`PrpCrypto`); this module is the one place that touches its private
helpers, adds a constant-time signature check and a timestamp window, and checks the receive id (corp id,
suite id, DingTalk app key, or "" for WeCom's smart bot).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException


class CallbackCryptoError(ValueError):
    """A callback failed verification; `reason` is safe to log (no payload)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()  # noqa: S324


@dataclass(frozen=True)
class CallbackCrypto:
    token: str
    encoding_aes_key: str
    receive_id: str
    # seconds a signed timestamp may differ from now; None disables the check (official vectors are old)
    window: float | None = 300.0

    def __post_init__(self) -> None:
        if len(self.encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters (a 32-byte key)")
        try:
            key = base64.b64decode(self.encoding_aes_key + "=", validate=True)
        except binascii.Error as exc:
            raise ValueError("EncodingAESKey is not valid base64") from exc
        if len(key) != 32:
            raise ValueError("EncodingAESKey must be 43 characters (a 32-byte key)")
        object.__setattr__(self, "_key", key)

    @property
    def key(self) -> bytes:
        return self._key  # type: ignore[attr-defined,no-any-return]

    def verify(
        self, msg_signature: str, timestamp: str, nonce: str, encrypt: str, *, now: float | None = None
    ) -> None:
        expected = signature(self.token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), (msg_signature or "").lower().encode()):
            raise CallbackCryptoError("bad signature")
        if self.window is not None:
            try:
                ts = float(timestamp)
            except ValueError as exc:
                raise CallbackCryptoError("timestamp is not a number") from exc
            if ts > 1e11:  # DingTalk signs milliseconds, WeCom seconds
                ts /= 1000.0
            if abs((time.time() if now is None else now) - ts) > self.window:
                raise CallbackCryptoError("timestamp outside the allowed window")

    def decrypt(self, encrypt: str) -> str:
        try:
            plain = PrpCrypto(self.key).decrypt(encrypt, self.receive_id)
        except InvalidAppIdException as exc:
            raise CallbackCryptoError("receive id does not match") from exc
        except Exception as exc:  # bad padding, bad base64, truncated: all the same to the caller
            raise CallbackCryptoError("cannot decrypt") from exc
        return plain.decode("utf-8") if isinstance(plain, bytes) else str(plain)

    def verify_and_decrypt(
        self, msg_signature: str, timestamp: str, nonce: str, encrypt: str, *, now: float | None = None
    ) -> str:
        self.verify(msg_signature, timestamp, nonce, encrypt, now=now)
        return self.decrypt(encrypt)

    def encrypt(
        self, plaintext: str, *, timestamp: str | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        """Encrypt a reply: {"encrypt", "msg_signature", "timestamp", "nonce"}."""
        ts = timestamp or str(int(time.time()))
        nc = nonce or secrets.token_hex(8)
        enc = PrpCrypto(self.key).encrypt(plaintext, self.receive_id)
        enc_s = enc.decode() if isinstance(enc, bytes) else str(enc)
        return {
            "encrypt": enc_s,
            "msg_signature": signature(self.token, ts, nc, enc_s),
            "timestamp": ts,
            "nonce": nc,
        }
