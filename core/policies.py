"""Policy broadcast (issue 4 §9, core side): publish a policy to every rep it concerns (a Notice each with
an acknowledge action), record acknowledgements, and the first time a policy is applied in a deal
(publication → first use is a health metric). Reminders of unacknowledged policies are the scan's
`policy_unacknowledged` SLA rule (config/rules.yaml)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from core.actions import ActionError, _audit, parse_short_id
from core.messages import Action, OutboundMessage
from core.models import Alert, Customer, Member, Opportunity, Policy, PolicyAck, PolicyApplication
from core.notices import create_notice
from core.people import context_for_member
from core.scope import NotAllowed, require_customer
from core.sqlutil import insert_ignore

PUBLISHERS = ("manager", "director", "admin")


def audience_members(session: Session, policy: Policy) -> list[Member]:
    """The reps a policy concerns: ``None``/``all`` → every active rep; a region (e.g. 华东-浙沪) → the reps
    of that region; ``team:NAME`` → the reps whose manager is NAME."""
    reps = session.exec(
        select(Member).where(Member.role == "rep", col(Member.active).is_(True)).order_by(col(Member.id))
    ).all()
    aud = (policy.audience or "all").strip()
    if aud in ("", "all", "全部"):
        return list(reps)
    if aud.startswith("team:"):
        mgr = session.exec(select(Member).where(Member.name == aud[5:])).first()
        return [m for m in reps if mgr is not None and m.manager_id == mgr.id]
    return [m for m in reps if m.region == aud or (m.region or "").startswith(aud + "-")]


def _policy(session: Session, ref: str | int) -> Policy:
    pid = ref if isinstance(ref, int) else parse_short_id(ref, "P")
    p = session.get(Policy, pid)
    if p is None:
        raise ActionError(f"没有政策 P{pid}")
    return p


def publish_policy(
    session: Session,
    actor: Member,
    title: str,
    body: str,
    now: datetime,
    *,
    audience: str | None = None,
) -> Policy:
    if actor.role not in PUBLISHERS:
        raise NotAllowed("只有经理或总监可以发布政策 (only managers and directors publish policies)")
    if not title.strip():
        raise ActionError("政策需要标题 (a policy needs a title)")
    policy = Policy(
        title=title.strip()[:200],
        body=body,
        audience=audience,
        published_at=now,
        published_by_id=actor.id,
    )
    session.add(policy)
    session.flush()
    _audit(session, actor, "policy.publish", "policy", policy.id, None, policy.title, now)
    for member in audience_members(session, policy):
        ctx = context_for_member(session, member)
        create_notice(
            session,
            key=f"policy:{policy.id}:v{policy.version}:{member.id}",
            recipient_id=member.id,
            kind="policy",
            now=now,
            not_before=ctx.release_time(now),
            message=OutboundMessage(
                title=f"新政策 P{policy.id}：{policy.title}",
                body=body,
                fields={"id": f"P{policy.id}"},
                actions=[Action(kind="ack", label="已阅 Ack", value=f"policy:{policy.id}:ack")],
            ),
        )
    return policy


def ack_policy(session: Session, member: Member, policy_ref: str | int, now: datetime) -> PolicyAck:
    """Acknowledge a policy (idempotent: the first acknowledgement counts); resolves its reminder."""
    policy = _policy(session, policy_ref)
    insert_ignore(
        session,
        PolicyAck,
        {"policy_id": policy.id, "member_id": member.id, "at": now},
        ["policy_id", "member_id"],
    )
    ack = session.exec(
        select(PolicyAck).where(PolicyAck.policy_id == policy.id, PolicyAck.member_id == member.id)
    ).one()
    for a in session.exec(
        select(Alert).where(
            Alert.subject_type == "policy",
            Alert.subject_id == policy.id,
            Alert.recipient_id == member.id,
            col(Alert.state).in_(("open", "snoozed", "acked")),
        )
    ).all():
        a.state, a.resolved_at, a.next_escalation_at = "resolved", now, None
        session.add(a)
    return ack


def unacknowledged(session: Session, policy: Policy) -> list[Member]:
    acked = {a.member_id for a in session.exec(select(PolicyAck).where(PolicyAck.policy_id == policy.id))}
    return [m for m in audience_members(session, policy) if m.id not in acked]


def _deal(session: Session, subject: Customer | Opportunity) -> Opportunity:
    if isinstance(subject, Opportunity):
        return subject
    opp = session.exec(
        select(Opportunity).where(Opportunity.customer_id == subject.id).order_by(col(Opportunity.id))
    ).first()
    if opp is None:  # the customer's deal, mirroring its stage and level
        opp = Opportunity(
            customer_id=subject.id or 0,
            name=subject.name,
            stage=subject.stage,
            level=subject.level,
            owner_id=subject.owner_id,
            stage_entered_at=subject.stage_since,
            level_entered_at=subject.level_since,
        )
        session.add(opp)
        session.flush()
    return opp


def record_policy_application(
    session: Session,
    actor: Member,
    policy_ref: str | int,
    subject: Customer | Opportunity,
    now: datetime,
) -> PolicyApplication:
    """Record that a policy was applied in a deal; only the first application per policy and deal is
    kept (the one the health metric measures), later calls return it unchanged."""
    policy = _policy(session, policy_ref)
    customer = subject if isinstance(subject, Customer) else session.get(Customer, subject.customer_id)
    if customer is not None:
        require_customer(session, actor, customer)
    opp = _deal(session, subject)
    new_id = insert_ignore(
        session,
        PolicyApplication,
        {"policy_id": policy.id, "opportunity_id": opp.id, "applied_at": now},
        ["policy_id", "opportunity_id"],
    )
    if new_id is not None:
        _audit(session, actor, "policy.apply", "opportunity", opp.id, None, f"P{policy.id}", now)
    return session.exec(
        select(PolicyApplication).where(
            PolicyApplication.policy_id == policy.id, PolicyApplication.opportunity_id == opp.id
        )
    ).one()
