"""Customer lookup: names and aliases, the gazetteer handed to `nlp`, and resolution in DESIGN §4's order."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlmodel import Session, select

from core.models import Conversation, Customer, CustomerAlias
from nlp.types import Extraction, GazetteerEntry

_SPACES = re.compile(r"[\s·・_\-]+")


def name_key(name: str) -> str:
    return _SPACES.sub("", name).casefold()


def gazetteer(session: Session) -> list[GazetteerEntry]:
    customers = session.exec(select(Customer)).all()
    aliases: dict[int, list[str]] = {}
    for alias in session.exec(select(CustomerAlias)).all():
        aliases.setdefault(alias.customer_id, []).append(alias.alias)
    return [GazetteerEntry(name=c.name, aliases=aliases.get(c.id or 0, [])) for c in customers]


def _all_keys(session: Session) -> dict[str, set[int]]:
    keys: dict[str, set[int]] = {}
    for c in session.exec(select(Customer)).all():
        keys.setdefault(name_key(c.name), set()).add(c.id or 0)
    for a in session.exec(select(CustomerAlias)).all():
        keys.setdefault(a.alias_key, set()).add(a.customer_id)
    return keys


def find_by_name(session: Session, typed: str) -> list[Customer]:
    """Customers a typed name can mean: exact name/alias first, then names containing it, then fuzzy."""
    key = name_key(typed)
    if not key:
        return []
    keys = _all_keys(session)
    ids = keys.get(key)
    if not ids:
        ids = {cid for k, cids in keys.items() if key in k or (len(k) >= 2 and k in key) for cid in cids}
    if not ids:
        best = process.extract(key, list(keys), scorer=fuzz.ratio, limit=3, score_cutoff=80)
        ids = {cid for k, _score, _i in best for cid in keys[k]}
    return [c for c in (session.get(Customer, i) for i in sorted(ids)) if c is not None]


def customers_in_title(session: Session, title: str | None) -> list[Customer]:
    if not title:
        return []
    key = name_key(title)
    hits: set[int] = set()
    for k, cids in _all_keys(session).items():
        if len(k) >= 2 and k in key:
            hits |= cids
    return [c for c in (session.get(Customer, i) for i in sorted(hits)) if c is not None]


@dataclass
class Resolution:
    customer: Customer | None
    how: str  # typed | alias | bound | title | owner | ambiguous | unknown
    candidates: list[Customer]


def resolve(
    session: Session,
    *,
    typed: str | None,
    extraction: Extraction,
    conversation: Conversation | None,
    sender_member_id: int | None,
) -> Resolution:
    """DESIGN §4: a name the rep typed, an alias in the text, the conversation's bound customer, a title
    naming exactly one customer (which then binds it), the sender's own customers when exactly one fits;
    otherwise the caller asks the rep (never a guess)."""
    if typed:
        found = find_by_name(session, typed)
        if len(found) == 1:
            return Resolution(found[0], "typed", found)
        return Resolution(None, "ambiguous" if found else "unknown", found)
    in_text = {m.name for m in extraction.customers}
    if in_text:
        found = [c for c in session.exec(select(Customer).where(Customer.name.in_(in_text))).all()]  # type: ignore[attr-defined]
        if len(found) == 1:
            return Resolution(found[0], "alias", found)
        if conversation and conversation.customer_id in {c.id for c in found}:
            bound = session.get(Customer, conversation.customer_id)
            return Resolution(bound, "bound", found)
        return Resolution(None, "ambiguous", found)
    if conversation and conversation.customer_id:
        return Resolution(session.get(Customer, conversation.customer_id), "bound", [])
    if conversation:
        titled = customers_in_title(session, conversation.title)
        if len(titled) == 1:
            conversation.customer_id = titled[0].id
            session.add(conversation)
            return Resolution(titled[0], "title", titled)
    if sender_member_id is not None:
        own = session.exec(select(Customer).where(Customer.owner_id == sender_member_id)).all()
        if len(own) == 1:
            return Resolution(own[0], "owner", list(own))
        return Resolution(None, "ambiguous" if own else "unknown", list(own))
    return Resolution(None, "unknown", [])
