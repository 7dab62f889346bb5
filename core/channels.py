"""Team alert channels (``LOOPKEEPER_ALERT_CHANNELS``): what a team's group chat receives. The one place
this rule lives; core decides and creates the Notices, the bot delivers them.

A team channel (a DingTalk custom group robot, a WeCom group robot, a Slack channel) is an internal group
the whole team reads, so it gets what the team should see together — not what one person must act on,
and never anything from a customer conversation (DESIGN §5 privacy):

1. **Escalated alerts at manager or director level.** When an escalation chain (config/rules.yaml) hands
   an alert to a manager or a director, it is also posted to the channels of the team of the person the
   alert concerns: title, body and the A-number. No buttons (a robot group cannot tell who clicked);
   acknowledging stays with the bot (``收到 A12``) or the button in the manager's own message. The first
   steps of a chain (the owner's own reminders, copies) stay private.
2. **A daily team summary** on the team's working days, from its morning hour until its quiet hours: per
   member their overdue todos and open alerts, the open escalations, today's meetings and the policies
   not yet acknowledged (counts).

Not posted: captures, extracted facts, confirmations, questions, lead reminders below manager level.

A channel serves a team when its ``team`` is empty (every team) or names the member's team
(``Member.team``), the config/rules.yaml team their region belongs to, their region, or the first part of
a hierarchical region (``华东`` covers ``华东-浙沪``).

Each post is one Notice (no recipient; platform = the channel's; ``extra.channel`` = the channel's
``ref``, never its webhook) keyed ``channel:<ref>:alert:<id>:<step>`` or ``channel:<ref>:summary:<date>``:
repeated and concurrent scans create it once. Delivery paces it per robot / channel (20 a minute per
robot, 1 a second per Slack channel) like every other notice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from config.rules import Rules
from config.settings import AlertChannel, get_settings
from core.calendar import TeamContext, context_for
from core.messages import OutboundMessage
from core.models import Alert, Customer, Meeting, Member, Policy, PolicyAck, Team, Todo
from core.notices import create_notice
from core.people import context_for_member
from core.timeutil import iso

if TYPE_CHECKING:
    from core.alerts import ScanResult

#: escalation targets whose alerts also go to the team channel
CHANNEL_ROLES = ("manager", "director")
#: lines per list in a team summary (the busiest members first), so it fits one robot message
MAX_LINES = 15


def configured() -> list[AlertChannel]:
    return list(get_settings().alert_channels)


def team_names(session: Session, member: Member, rules: Rules | None = None) -> set[str]:
    """Every name a channel's ``team`` may use for the member's team."""
    names: set[str] = set()
    if member.team_id is not None:
        team = session.get(Team, member.team_id)
        if team is not None:
            names.add(team.name)
    ctx = context_for_member(session, member, rules)
    if ctx.name != "default":
        names.add(ctx.name)
    if member.region:
        names.add(member.region)
        names.add(member.region.split("-", 1)[0])
    return names


def channels_for_member(
    session: Session, member: Member | None, rules: Rules | None = None
) -> list[AlertChannel]:
    channels = configured()
    if not channels:
        return []
    names = team_names(session, member, rules) if member is not None else set()
    return [ch for ch in channels if ch.team is None or ch.team in names]


def _post(
    session: Session,
    ch: AlertChannel,
    key: str,
    kind: str,
    message: OutboundMessage,
    now: datetime,
    ctx: TeamContext,
    *,
    alert_id: int | None = None,
    extra: dict[str, str | None] | None = None,
) -> int | None:
    return create_notice(
        session,
        key=key,
        recipient_id=None,
        kind=kind,
        message=message,
        platform=ch.platform,
        alert_id=alert_id,
        now=now,
        not_before=ctx.release_time(now),
        extra={"channel": ch.ref, "team": ch.team or "", **(extra or {})},
    )


def escalated(
    session: Session,
    alert: Alert,
    step: int,
    person: Member | None,
    target: Member,
    now: datetime,
    rules: Rules | None = None,
) -> int:
    """An alert escalated to ``target``: posted to the team channels of ``person`` (the member it
    concerns) when ``target`` is a manager or a director. The number of channel notices created."""
    if target.role not in CHANNEL_ROLES:
        return 0
    concerned = person or target
    ctx = context_for_member(session, concerned, rules)
    alert_id = alert.id or 0
    message = OutboundMessage(
        title=f"升级 (escalated) → {target.name}: {alert.title} [A{alert_id}]",
        body=(alert.body or "")
        + f"\n\n已升级至 {target.name}，请其回复 `收到 A{alert_id}` 确认 (escalated to {target.name}).",
        fields={"id": f"A{alert_id}", "rule": alert.rule, "level": alert.level, "to": target.name},
    )
    created = 0
    for ch in channels_for_member(session, concerned, rules):
        if _post(
            session,
            ch,
            f"channel:{ch.ref}:alert:{alert_id}:{step}",
            "channel_alert",
            message,
            now,
            ctx,
            alert_id=alert_id,
            extra={"step": str(step)},
        ):
            created += 1
    return created


def _members_of(session: Session, ch: AlertChannel, rules: Rules) -> list[Member]:
    members = session.exec(select(Member).where(col(Member.active).is_(True)).order_by(col(Member.id))).all()
    if ch.team is None:
        return list(members)
    return [m for m in members if ch.team in team_names(session, m, rules)]


def team_summary(
    session: Session, members: list[Member], team: str, ctx: TeamContext, now: datetime
) -> OutboundMessage:
    local = ctx.local(now)
    ids = {m.id for m in members}
    names = {m.id: m.name for m in members}
    overdue: dict[int | None, int] = {}
    for t in session.exec(
        select(Todo).where(Todo.status == "open", col(Todo.due).is_not(None), col(Todo.due) < now)
    ).all():
        if t.owner_id in ids:
            overdue[t.owner_id] = overdue.get(t.owner_id, 0) + 1
    open_alerts: dict[int | None, int] = {}
    escalations: list[Alert] = []
    for a in session.exec(select(Alert).where(Alert.state == "open").order_by(col(Alert.id))).all():
        if a.recipient_id in ids:
            open_alerts[a.recipient_id] = open_alerts.get(a.recipient_id, 0) + 1
            if a.escalation_step > 0:
                escalations.append(a)
    owned = {c.id for c in session.exec(select(Customer).where(col(Customer.owner_id).in_(list(ids)))).all()}
    day_start = datetime.combine(local.date(), datetime.min.time(), tzinfo=ctx.tz)
    meetings = [
        m
        for m in session.exec(
            select(Meeting).where(
                col(Meeting.status).in_(("scheduled", "moved")),
                Meeting.start >= day_start,
                Meeting.start < day_start + timedelta(days=1),
            )
        ).all()
        if m.customer_id in owned
    ]
    from core.policies import audience_members

    unacked = 0
    for p in session.exec(select(Policy)).all():
        acked = {a.member_id for a in session.exec(select(PolicyAck).where(PolicyAck.policy_id == p.id))}
        unacked += sum(1 for m in audience_members(session, p) if m.id in ids and m.id not in acked)

    lines = ["**逾期与待处理 Overdue todos · open alerts**"]
    busy = sorted(
        (mid for mid in names if overdue.get(mid) or open_alerts.get(mid)),
        key=lambda mid: (-(overdue.get(mid, 0) + open_alerts.get(mid, 0)), names[mid]),
    )
    lines += [
        f"- {names[mid]}：逾期 {overdue.get(mid, 0)} · 提醒 {open_alerts.get(mid, 0)}"
        for mid in busy[:MAX_LINES]
    ] or ["- 无 none"]
    if len(busy) > MAX_LINES:  # a robot message has a size limit (WeCom markdown: 4096 bytes)
        lines.append(f"- … +{len(busy) - MAX_LINES}")
    lines.append(f"**升级中 Open escalations ({len(escalations)})**")
    lines += [f"- A{a.id} {names.get(a.recipient_id, '-')} · {a.title}" for a in escalations[:MAX_LINES]] or [
        "- 无 none"
    ]
    if len(escalations) > MAX_LINES:
        lines.append(f"- … +{len(escalations) - MAX_LINES}")
    lines.append(f"**今日会议 Today's meetings: {len(meetings)}**")
    lines.append(f"**未确认政策 Policy acknowledgements missing: {unacked}**")
    return OutboundMessage(
        title=f"团队早报 Team summary {team} {local:%Y-%m-%d}",
        body="\n".join(lines),
        fields={
            "overdue": str(sum(overdue.values())),
            "open_alerts": str(sum(open_alerts.values())),
            "escalations": str(len(escalations)),
            "meetings": str(len(meetings)),
        },
    )


def team_summaries(session: Session, result: ScanResult, rules: Rules, now: datetime) -> None:
    """Each channel's daily summary, once per local working day of its team, from the morning hour until
    the quiet hours start."""
    for ch in configured():
        members = _members_of(session, ch, rules)
        if not members:
            continue
        ctx = (
            context_for(rules, team_name=ch.team, region=ch.team)
            if ch.team
            else context_for_member(session, members[0], rules)
        )
        if ch.team and ctx.name == "default":
            ctx = context_for_member(session, members[0], rules)
        local = ctx.local(now)
        if not ctx.is_working_day(now):
            continue
        if local.timetz().replace(tzinfo=None) < ctx.morning or ctx.in_quiet_hours(now):
            continue
        day = local.date().isoformat()
        message = team_summary(session, members, ch.team or "", ctx, now)
        if _post(
            session,
            ch,
            f"channel:{ch.ref}:summary:{day}",
            "channel_summary",
            message,
            now,
            ctx,
            extra={"date": day, "at": iso(now, ctx.tz)},
        ):
            result.digests += 1
