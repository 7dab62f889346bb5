"""Roster and customer imports (CSV as in the shared sample data). Idempotent: re-importing updates."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from core.customers import name_key
from core.models import Customer, CustomerAlias, Member, PlatformIdentity
from core.timeutil import parse_iso

ROLES = {"rep", "manager", "director", "admin"}
IDENTITY_COLUMNS = {"wecom_userid": "wecom", "dingtalk_staff_id": "dingtalk", "slack_user_id": "slack"}


class ImportError_(ValueError):
    """A row of an import file is not acceptable; the message names the line."""


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0


def _rows(path: Path, required: set[str]) -> list[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise ImportError_(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return [(i + 2, {k: (v or "").strip() for k, v in row.items() if k}) for i, row in enumerate(reader)]


def import_members(session: Session, path: Path) -> ImportSummary:
    rows = _rows(path, {"name", "role"})
    summary = ImportSummary()
    by_name: dict[str, Member] = {}
    for line, row in rows:
        role = row["role"].lower()
        if role not in ROLES:
            raise ImportError_(f"{path}:{line}: role {row['role']!r} is not one of {sorted(ROLES)}")
        if not row["name"]:
            raise ImportError_(f"{path}:{line}: empty name")
        member = session.exec(select(Member).where(Member.name == row["name"])).first()
        if member is None:
            member = Member(name=row["name"])
            summary.created += 1
        else:
            summary.updated += 1
        member.role = role
        member.region = row.get("region") or None
        member.email = row.get("email") or member.email
        session.add(member)
        session.flush()
        by_name[member.name] = member
        for column, platform in IDENTITY_COLUMNS.items():
            user_id = row.get(column)
            if not user_id:
                continue
            ident = session.exec(
                select(PlatformIdentity).where(
                    PlatformIdentity.platform == platform, PlatformIdentity.user_id == user_id
                )
            ).first()
            if ident is None:
                session.add(PlatformIdentity(platform=platform, user_id=user_id, member_id=member.id or 0))
            elif ident.member_id != member.id:
                ident.member_id = member.id or 0
                session.add(ident)
    for line, row in rows:
        manager_name = row.get("manager")
        if not manager_name:
            continue
        manager = (
            by_name.get(manager_name)
            or session.exec(select(Member).where(Member.name == manager_name)).first()
        )
        if manager is None:
            raise ImportError_(f"{path}:{line}: manager {manager_name!r} is not in the roster")
        by_name[row["name"]].manager_id = manager.id
        session.add(by_name[row["name"]])
    return summary


def import_customers(session: Session, path: Path) -> ImportSummary:
    rows = _rows(path, {"name"})
    summary = ImportSummary()
    for line, row in rows:
        if not row["name"]:
            raise ImportError_(f"{path}:{line}: empty name")
        owner_id = None
        if row.get("owner"):
            owner = session.exec(select(Member).where(Member.name == row["owner"])).first()
            if owner is None:
                raise ImportError_(
                    f"{path}:{line}: owner {row['owner']!r} is not a member (import members first)"
                )
            owner_id = owner.id
        customer = session.exec(select(Customer).where(Customer.name == row["name"])).first()
        if customer is None:
            customer = Customer(name=row["name"])
            summary.created += 1
        else:
            summary.updated += 1
        customer.region = row.get("region") or customer.region
        customer.owner_id = owner_id or customer.owner_id
        customer.stage = row.get("stage") or customer.stage
        customer.level = (row.get("level") or customer.level or "").upper() or None
        if row.get("stage_since"):
            try:
                customer.stage_since = parse_iso(row["stage_since"], "stage_since")
            except ValueError as exc:
                raise ImportError_(f"{path}:{line}: stage_since: {exc}") from exc
        session.add(customer)
        session.flush()
        aliases = [a.strip() for a in (row.get("aliases") or "").split("|") if a.strip()]
        known = {
            a.alias_key
            for a in session.exec(select(CustomerAlias).where(CustomerAlias.customer_id == customer.id))
        }
        for alias in aliases:
            key = name_key(alias)
            if key and key not in known:
                session.add(CustomerAlias(customer_id=customer.id or 0, alias=alias, alias_key=key))
                known.add(key)
    return summary
