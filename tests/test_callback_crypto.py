"""The shared AES callback crypto against the platforms' official known-answer vectors
(../shared/docs/platforms.md §5: WeCom /document/path/90968, DingTalk DingCallbackCrypto3)."""

from __future__ import annotations

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from integrations.common.callback_crypto import CallbackCrypto, CallbackCryptoError

WECOM = {
    "corp": "wx5823bf96d3bd56c7",
    "token": "QDG6eK",
    "aes": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "ts": "1409659813",
    "nonce": "1372623149",
    "sig": "477715d11cdb4164915debcba66cb864d751f3e6",
    "encrypt": (
        "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJ"
        "Ts3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc"
        "2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL"
        "4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lX"
        "dQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
    ),
}

DINGTALK = {
    "owner": "ding6ccabc44d2c8d38b",
    "token": "mryue",
    "aes": "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
    "ts": "1608001896814",
    "nonce": "WL4PK6yA",
    "sig": "03044561471240d4a14bb09372dfcfd4fd0e40cb",
    "encrypt": (
        "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+HZeKju4yhELOFc"
        "hzNukR+t8SB/qk4ROMu3"
    ),
}


def test_wecom_official_vector() -> None:
    c = CallbackCrypto(WECOM["token"], WECOM["aes"], WECOM["corp"], window=None)
    plain = c.verify_and_decrypt(WECOM["sig"], WECOM["ts"], WECOM["nonce"], WECOM["encrypt"])
    assert "<Content><![CDATA[hello]]></Content>" in plain
    assert "<FromUserName><![CDATA[mycreate]]></FromUserName>" in plain


def test_dingtalk_official_vector() -> None:
    c = CallbackCrypto(DINGTALK["token"], DINGTALK["aes"], DINGTALK["owner"], window=None)
    assert c.verify_and_decrypt(DINGTALK["sig"], DINGTALK["ts"], DINGTALK["nonce"], DINGTALK["encrypt"]) == (
        '{"EventType":"check_url"}'
    )


def test_timestamp_window_in_seconds_and_milliseconds() -> None:
    c = CallbackCrypto(DINGTALK["token"], DINGTALK["aes"], DINGTALK["owner"], window=300)
    args = (DINGTALK["sig"], DINGTALK["ts"], DINGTALK["nonce"], DINGTALK["encrypt"])
    c.verify(*args, now=1608001896.814 + 299)
    with pytest.raises(CallbackCryptoError, match="window"):
        c.verify(*args, now=1608001896.814 + 301)


@pytest.mark.parametrize("field", ["sig", "ts", "nonce"])
def test_tampering_is_refused(field: str) -> None:
    c = CallbackCrypto(WECOM["token"], WECOM["aes"], WECOM["corp"], window=None)
    v = dict(WECOM)
    v[field] = v[field][:-1] + ("0" if v[field][-1] != "0" else "1")
    with pytest.raises(CallbackCryptoError, match="bad signature"):
        c.verify_and_decrypt(v["sig"], v["ts"], v["nonce"], v["encrypt"])


def test_wrong_receive_id_is_refused() -> None:
    c = CallbackCrypto(WECOM["token"], WECOM["aes"], "wx-other-corp", window=None)
    with pytest.raises(CallbackCryptoError, match="receive id"):
        c.verify_and_decrypt(WECOM["sig"], WECOM["ts"], WECOM["nonce"], WECOM["encrypt"])


def test_reply_decrypts_with_wechatpy() -> None:
    c = CallbackCrypto(WECOM["token"], WECOM["aes"], WECOM["corp"])
    out = c.encrypt("<xml><Content>hi</Content></xml>", timestamp="1409659813", nonce="42")
    xml = (
        f"<xml><Encrypt><![CDATA[{out['encrypt']}]]></Encrypt>"
        f"<MsgSignature><![CDATA[{out['msg_signature']}]]></MsgSignature></xml>"
    )
    plain = WeChatCrypto(WECOM["token"], WECOM["aes"], WECOM["corp"]).decrypt_message(
        xml, out["msg_signature"], out["timestamp"], out["nonce"]
    )
    assert plain == "<xml><Content>hi</Content></xml>"


def test_bad_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="43 characters"):
        CallbackCrypto("t", "short", "x")
