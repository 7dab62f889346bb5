"""The Slack `Notifier` (core.notices protocol): alerts and notices as Block Kit via ``chat.postMessage``.

A notice to a member is posted to their Slack user id, which Slack delivers as a direct message from the
app (private, never into a channel shared with customers); a team alert channel id (``C…``) works the same.
Buttons carry ``Action.value`` verbatim; Slack sends them back as ``block_actions`` (see `app.py`).

Rate limits: chat.postMessage allows about one message per second per channel (platforms.md §1.10). The
notifier only declares that (`destination`: key ``slack:channel:<id>``, 1 per second); the delivery layer
(bot/delivery.py with the shared limiter of bot/ratelimit.py) paces every worker on it, so the notifier
never waits by itself. A ``429`` raises ``DeliveryError(retry_after=Retry-After)`` and the outbox retries
then. Errors that no retry can fix (unknown channel, bot not in channel, revoked token…) are permanent.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from config.settings import SlackSettings
from core.messages import OutboundMessage
from core.notices import DeliveryError, Destination
from integrations.slack.render import blocks, fallback_text

log = logging.getLogger(__name__)

#: Web API error codes a retry cannot fix (https://api.slack.com/methods/chat.postMessage#errors)
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "too_many_attachments",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cannot_reply_to_message",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "ekm_access_denied",
        "team_access_not_granted",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "method_deprecated",
        "deprecated_endpoint",
        "two_factor_setup_required",
        "org_login_required",
    }
)


#: chat.postMessage: about one message per second per channel (a DM counts as the member's channel)
RATE_LIMIT = (1, 1.0)


class SlackNotifier:
    """Posts to a member (their user id opens the DM) or a channel id; paced by the delivery layer."""

    platform = "slack"

    def __init__(
        self,
        token: str,
        api_url: str,
        *,
        timeout: int = 10,
        team: str | None = None,
        ref: str | None = None,
    ) -> None:
        self.client = WebClient(token=token, base_url=_base(api_url), timeout=timeout)
        #: as a team alert channel: its team and ref (the channel id), see bot.notifiers.channel_notifier
        self.team = team
        self.ref = ref

    @classmethod
    def from_settings(
        cls, settings: SlackSettings, *, team: str | None = None, ref: str | None = None
    ) -> SlackNotifier:
        assert settings.bot_token is not None
        return cls(settings.bot_token.get_secret_value(), settings.api_url, team=team, ref=ref)

    def destination(self, user_id: str) -> Destination:
        """Slack limits chat.postMessage per channel: one bucket per user id / channel id."""
        return Destination(f"slack:channel:{user_id}", *RATE_LIMIT)

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        try:
            self.client.chat_postMessage(
                channel=user_id,
                text=fallback_text(message),
                blocks=blocks(message),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise _delivery_error(exc, notice_key) from exc
        except OSError as exc:  # connection refused / reset / timeout: transient
            raise DeliveryError(f"slack unreachable: {type(exc).__name__}") from exc


def _base(api_url: str) -> str:
    return api_url if api_url.endswith("/") else api_url + "/"


def _delivery_error(exc: SlackApiError, notice_key: str) -> DeliveryError:
    response: Any = exc.response
    status = getattr(response, "status_code", None)
    headers = {str(k).lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
    code = ""
    try:
        code = str(response.get("error") or "")
    except Exception:  # a non-JSON body
        code = ""
    if status == 429 or code == "ratelimited":
        raw: Any = headers.get("retry-after")
        value: Any = raw[0] if isinstance(raw, list) and raw else raw
        try:
            retry_after = float(value) if value is not None else 1.0
        except (TypeError, ValueError):
            retry_after = 1.0
        log.info("slack rate limited; retry in %ss [%s]", retry_after, notice_key)
        return DeliveryError("slack: ratelimited", retry_after=retry_after)
    permanent = code in PERMANENT_ERRORS or status in (401, 403, 404, 410)
    return DeliveryError(f"slack: {code or status}", permanent=permanent)
