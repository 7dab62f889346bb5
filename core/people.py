"""Who is who for the rules: a member's manager and director, and the team context (time zone, working-day
calendar, quiet hours) that applies to them (config/rules.yaml `teams`)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from config.rules import Rules, get_rules
from core.calendar import TeamContext, context_for
from core.models import Member, Team


def manager_of(session: Session, member: Member | None) -> Member | None:
    if member is None or member.manager_id is None:
        return None
    return session.get(Member, member.manager_id)


def director_of(session: Session, member: Member | None) -> Member | None:
    """The first director up the member's management chain, else the first active director."""
    seen: set[int] = set()
    current = manager_of(session, member)
    while current is not None and (current.id or 0) not in seen:
        if current.role == "director":
            return current
        seen.add(current.id or 0)
        current = manager_of(session, current)
    return session.exec(
        select(Member).where(Member.role == "director", col(Member.active).is_(True)).order_by(col(Member.id))
    ).first()


def resolve_role(session: Session, role: str, person: Member | None) -> Member | None:
    """``owner``/``audience`` is the person the rule concerns; ``manager``/``director`` are above them."""
    if role in ("owner", "audience"):
        return person
    if role == "manager":
        return manager_of(session, person)
    if role == "director":
        return director_of(session, person)
    return None


def context_for_member(session: Session, member: Member | None, rules: Rules | None = None) -> TeamContext:
    rules = rules or get_rules()
    team_name = None
    if member is not None and member.team_id is not None:
        team = session.get(Team, member.team_id)
        team_name = team.name if team else None
    return context_for(rules, team_name=team_name, region=member.region if member else None)


def context_for_id(session: Session, member_id: int | None, rules: Rules | None = None) -> TeamContext:
    return context_for_member(session, session.get(Member, member_id) if member_id else None, rules)
