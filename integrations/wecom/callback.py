"""The hardened callback pipeline for `GET|POST /wecom/callback` (self-built app) and `/wecom/aibot` (smart
bot), free of any web framework so it can be tested and timed on its own.

Order of checks for a POST, each refusal logged as "wecom callback refused: <reason>" and nothing stored:
size limit → DTD/entity refusal (before any parsing) → control characters stripped → envelope parsed with
defusedxml → signature (constant time) and timestamp window (CallbackCrypto) → decryption and receive id
(corp id; "" for the smart bot) → replay guard (the signed request, then MsgId / msgid / a hash of the event)
→ the inner message parsed the same safe way. Only then is the handler called; it stores with one INSERT and
returns at once, and anything slow (replies, lookups) is returned as follow-up jobs run after the answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from integrations.common.callback_crypto import CallbackCrypto, CallbackCryptoError
from integrations.wecom.replay import ReplayGuard
from integrations.wecom.xmlsafe import UnsafeXML, clean, envelope_encrypt, refuse_dtd, strip_illegal

log = logging.getLogger("loopkeeper.wecom")

MAX_BODY = 256 * 1024
Job = Callable[[], None]


@dataclass
class Outcome:
    status: int
    body: str = ""
    media_type: str = "text/plain"
    jobs: list[Job] = field(default_factory=list)
    reason: str | None = None  # why it was refused or ignored (safe to log)


def refused(endpoint: str, reason: str, status: int = 403) -> Outcome:
    log.warning("wecom %s refused: %s", endpoint, reason, extra={"endpoint": endpoint, "reason": reason})
    return Outcome(status=status, body="", reason=reason)


def verify_url(crypto: CallbackCrypto | None, params: dict[str, str], endpoint: str = "callback") -> Outcome:
    """GET ?msg_signature&timestamp&nonce&echostr → the decrypted echostr, plaintext only."""
    if crypto is None:
        return refused(endpoint, "not configured (token / EncodingAESKey unset)", 503)
    try:
        echostr = params["echostr"]
        plain = crypto.verify_and_decrypt(
            params["msg_signature"], params["timestamp"], params["nonce"], echostr
        )
    except KeyError as exc:
        return refused(endpoint, f"missing parameter {exc.args[0]}", 400)
    except CallbackCryptoError as exc:
        return refused(endpoint, exc.reason)
    return Outcome(status=200, body=plain)


def open_request(
    crypto: CallbackCrypto | None,
    params: dict[str, str],
    body: bytes,
    replay: ReplayGuard,
    *,
    endpoint: str,
    json_body: bool = False,
) -> tuple[str | None, Outcome | None]:
    """Verify and decrypt a POST; (plaintext, None) or (None, the refusal)."""
    if crypto is None:
        return None, refused(endpoint, "not configured (token / EncodingAESKey unset)", 503)
    if len(body) > MAX_BODY:
        return None, refused(endpoint, "body too large", 413)
    try:
        sig, ts, nonce = params["msg_signature"], params["timestamp"], params["nonce"]
    except KeyError as exc:
        return None, refused(endpoint, f"missing parameter {exc.args[0]}", 400)
    try:
        if json_body:
            text = body.decode("utf-8", errors="replace")
            refuse_dtd(text)
            encrypt = str(json.loads(strip_illegal(text)).get("encrypt") or "")
            if not encrypt:
                raise UnsafeXML("no encrypt field in the body")
        else:
            encrypt = envelope_encrypt(body)
    except UnsafeXML as exc:
        return None, refused(endpoint, exc.reason, 400)
    except (ValueError, AttributeError):
        return None, refused(endpoint, "body is not the expected JSON", 400)
    try:
        plain = crypto.verify_and_decrypt(sig, ts, nonce, encrypt)
    except CallbackCryptoError as exc:
        return None, refused(endpoint, exc.reason)
    if not json_body:  # JSON is never parsed as XML: a member may well paste "<!DOCTYPE html>" into a message
        try:
            plain = clean(plain, inner=True)
        except UnsafeXML as exc:  # refused before it is remembered: not taken for a replay later
            return None, refused(endpoint, exc.reason, 400)
    if replay.seen(request_key(params)):
        return None, replayed(endpoint, "the same signed request")
    return plain, None


def request_key(params: dict[str, str]) -> str:
    return f"req:{params.get('msg_signature')}:{params.get('timestamp')}:{params.get('nonce')}"


def replayed(endpoint: str, what: str) -> Outcome:
    """A replay (or WeCom's own retry of something already handled): acknowledged, nothing done again."""
    reason = f"replay ({what})"
    log.warning("wecom %s refused: %s", endpoint, reason, extra={"endpoint": endpoint, "reason": reason})
    return Outcome(status=200, body="success", reason=reason)


def event_key(message_id: str | None, plaintext: str) -> str:
    """MsgId when there is one, else a hash of the decrypted event (approval and card events have none)."""
    if message_id:
        return f"msg:{message_id}"
    return "evt:" + hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def parse_json(plaintext: str) -> dict[str, Any]:
    data = json.loads(strip_illegal(plaintext))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
