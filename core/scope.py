"""Who may see what (DESIGN §5): a rep sees own customers; a manager sees their region and their direct
reports' customers (either grants access); a director or admin sees everything. The one place this rule
lives — commands, the REST API and the CLI all ask here."""

from __future__ import annotations

from sqlmodel import Session, select

from core.models import Customer, Member


class NotAllowed(PermissionError):
    """The member asked for something outside their scope."""


def visible_customer_ids(session: Session, member: Member) -> set[int] | None:
    """The customer ids the member may see; None means every customer."""
    if member.role in ("director", "admin"):
        return None
    if member.role == "manager":
        reports = {m.id for m in session.exec(select(Member).where(Member.manager_id == member.id)).all()}
        ids = set()
        for c in session.exec(select(Customer)).all():
            in_region = bool(member.region) and c.region == member.region
            if in_region or c.owner_id in reports or c.owner_id == member.id:
                ids.add(c.id or 0)
        return ids
    return {c.id or 0 for c in session.exec(select(Customer).where(Customer.owner_id == member.id)).all()}


def can_see(session: Session, member: Member, customer: Customer) -> bool:
    ids = visible_customer_ids(session, member)
    return ids is None or (customer.id or 0) in ids


def require_customer(session: Session, member: Member, customer: Customer) -> None:
    if not can_see(session, member, customer):
        raise NotAllowed(f"{customer.name} 不在你的权限范围内 (not in your scope)")


def visible_members(session: Session, member: Member) -> set[int] | None:
    """Members whose todos/alerts this member may see; None means everyone."""
    if member.role in ("director", "admin"):
        return None
    if member.role == "manager":
        ids = {m.id or 0 for m in session.exec(select(Member).where(Member.manager_id == member.id)).all()}
        if member.region:
            ids |= {
                m.id or 0 for m in session.exec(select(Member).where(Member.region == member.region)).all()
            }
        return ids | {member.id or 0}
    return {member.id or 0}
