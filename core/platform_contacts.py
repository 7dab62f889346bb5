"""Customer-side platform ids (a WeCom external_userid…) bound to customers (`CustomerPlatformContact`).

The first capture from the chat toolbar (or a command naming the customer) binds the contact; later
captures from the same contact know their customer without asking. A rep may correct a binding: binding a
contact again moves it to the new customer.

An external (customer) group conversation bound to a customer also binds its customer-side people: every
sender seen in it who is no member (`bind_conversation_contacts`), and any external ids a platform can list
for the group (`bind_external_ids`, e.g. WeCom's customer-group member list). A contact already bound to
another customer keeps that binding (a group may hold a partner's or another customer's people); only a
rep binding that contact directly moves it.
"""

from __future__ import annotations

from sqlmodel import Session, select

from core.models import Conversation, Customer, CustomerPlatformContact, InboxMessage, PlatformIdentity


def contact_customer(session: Session, platform: str, external_id: str) -> Customer | None:
    row = session.exec(
        select(CustomerPlatformContact).where(
            CustomerPlatformContact.platform == platform, CustomerPlatformContact.external_id == external_id
        )
    ).first()
    return session.get(Customer, row.customer_id) if row is not None else None


def bind_contact(
    session: Session, platform: str, external_id: str, customer: Customer, name: str | None = None
) -> CustomerPlatformContact:
    row = session.exec(
        select(CustomerPlatformContact).where(
            CustomerPlatformContact.platform == platform, CustomerPlatformContact.external_id == external_id
        )
    ).first()
    if row is None:
        row = CustomerPlatformContact(
            platform=platform, external_id=external_id, customer_id=customer.id or 0, name=name
        )
    else:
        row.customer_id = customer.id or 0
        row.name = name or row.name
    session.add(row)
    session.flush()
    return row


def conversation_customer(session: Session, platform: str, conversation_id: str) -> Customer | None:
    conv = session.exec(
        select(Conversation).where(
            Conversation.platform == platform, Conversation.conversation_id == conversation_id
        )
    ).first()
    return session.get(Customer, conv.customer_id) if conv is not None and conv.customer_id else None


def bind_conversation(
    session: Session, platform: str, conversation_id: str, customer: Customer, *, external: bool
) -> Conversation:
    """Bind a (customer group) conversation to a customer, creating the conversation row if needed."""
    conv = session.exec(
        select(Conversation).where(
            Conversation.platform == platform, Conversation.conversation_id == conversation_id
        )
    ).first()
    if conv is None:
        conv = Conversation(
            platform=platform, conversation_id=conversation_id, kind="group", external=external
        )
    conv.customer_id = customer.id
    session.add(conv)
    session.flush()
    return conv


def external_senders(session: Session, platform: str, conversation_pk: int) -> list[str]:
    """Platform ids of the senders seen in a conversation who are no member, in order of appearance."""
    ids = session.exec(
        select(InboxMessage.sender_id)
        .where(
            InboxMessage.platform == platform,
            InboxMessage.conversation_pk == conversation_pk,
            InboxMessage.sender_member_id == None,  # noqa: E711 - SQL IS NULL
        )
        .order_by(InboxMessage.id)  # type: ignore[arg-type]
    ).all()
    members = set(
        session.exec(select(PlatformIdentity.user_id).where(PlatformIdentity.platform == platform)).all()
    )
    return list(dict.fromkeys(i for i in ids if i and i not in members))


def bind_external_ids(
    session: Session, platform: str, external_ids: list[str], customer: Customer
) -> list[str]:
    """Bind each id not yet bound to any customer; the ids bound now."""
    bound = []
    for ext in dict.fromkeys(external_ids):
        if ext and contact_customer(session, platform, ext) is None:
            bind_contact(session, platform, ext, customer)
            bound.append(ext)
    return bound


def bind_conversation_contacts(session: Session, conv: Conversation, customer: Customer) -> list[str]:
    """An external conversation bound to ``customer``: its customer-side senders become the customer's
    contacts (see the module docstring); the ids bound now. Nothing for an internal conversation."""
    if not conv.external or conv.id is None:
        return []
    return bind_external_ids(
        session, conv.platform, external_senders(session, conv.platform, conv.id), customer
    )
