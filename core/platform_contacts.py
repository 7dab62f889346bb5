"""Customer-side platform ids (a WeCom external_userid…) bound to customers (`CustomerPlatformContact`).

The first capture from the chat toolbar (or a command naming the customer) binds the contact; later
captures from the same contact know their customer without asking. A rep may correct a binding: binding a
contact again moves it to the new customer.
"""

from __future__ import annotations

from sqlmodel import Session, select

from core.models import Conversation, Customer, CustomerPlatformContact


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
