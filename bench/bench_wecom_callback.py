"""Cost of the hardened WeCom callback path against plain decryption, in the same process.

    .venv/bin/python bench/bench_wecom_callback.py [--n 2000]

Baseline: wechatpy's `WeChatCrypto.decrypt_message` on the same requests (signature + AES only). Measured:
`WeComService.callback_post` — DTD refusal, control-character strip, defusedxml envelope, constant-time
signature, window, decryption, replay guard, safe inner parse, normalization — with a handler that returns at
once (the handler's one INSERT is the database's cost, not the adapter's). Prints both per-request times and
the ratio; WeCom's budget is 5 s per POST (1 s for the echostr).
"""

from __future__ import annotations

import argparse
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wechatpy.enterprise.crypto import WeChatCrypto  # noqa: E402

from core.messages import Reply  # noqa: E402
from integrations.common.callback_crypto import CallbackCrypto  # noqa: E402
from integrations.wecom.service import WeComService  # noqa: E402

CORP, TOKEN, AES = "wwbench", "benchToken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class NullHandler:
    def on_message(self, msg):  # type: ignore[no-untyped-def]
        return None

    def on_command(self, inv):  # type: ignore[no-untyped-def]
        return Reply(title="")

    def on_action(self, action):  # type: ignore[no-untyped-def]
        return None

    def on_approval(self, event):  # type: ignore[no-untyped-def]
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    n = ap.parse_args().n
    wc = WeChatCrypto(TOKEN, AES, CORP)
    now = int(time.time())
    reqs = []
    for i in range(n):
        inner = (
            f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[wm-{i}]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[记一下 百润 他们仓库库存周转太慢，账期也太短 {i}]]></Content>"
            f"<MsgId>{10_000 + i}</MsgId><AgentID>1</AgentID></xml>"
        )
        out = ET.fromstring(wc.encrypt_message(inner, f"n{i}", now))
        params = {
            "msg_signature": out.findtext("MsgSignature") or "",
            "timestamp": str(now),
            "nonce": f"n{i}",
        }
        enc = out.findtext("Encrypt")
        body = f"<xml><ToUserName>{CORP}</ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
        reqs.append((params, body.encode()))

    t0 = time.perf_counter()
    for params, body in reqs:
        wc.decrypt_message(body.decode(), params["msg_signature"], params["timestamp"], params["nonce"])
    base = (time.perf_counter() - t0) / n

    svc = WeComService(handler=NullHandler(), callback_crypto=CallbackCrypto(TOKEN, AES, CORP))
    t0 = time.perf_counter()
    for params, body in reqs:
        assert svc.callback_post(params, body).status == 200
    ours = (time.perf_counter() - t0) / n

    print(f"requests: {n}")
    print(f"baseline wechatpy decrypt_message: {base * 1e6:8.1f} µs/request")
    print(f"hardened callback_post:           {ours * 1e6:8.1f} µs/request")
    print(f"ratio hardened / baseline: {ours / base:.2f}x; share of WeCom's 5 s budget: {ours / 5:.2e}")


if __name__ == "__main__":
    main()
