"""The approvals mapping (``LOOPKEEPER_APPROVALS_FILE``, DESIGN §7 ``APPROVALS_FILE``): which approval
templates are expense claims and which form field holds the customer, the date, the place and the amount.

```yaml
link:
  tolerance: 1            # a visit fits a claim when its date is within this many …
  unit: working_days      # … working_days (the applicant's team calendar) or days
dingtalk:
  - process_code: PROC-EXPENSE-TRAVEL          # or biz_category_id: dingtalk.businessFinance.reimbursement
    fields: {customer: customerName, date: DDDateField-K2AD4O5B, place: TextField-place, amount: MoneyField-1}
wecom:
  - template_id: 3Tka1eD6v6JfzhDMqPd3aMkFdxqtJMc2ZRioeFXk
    fields: {customer: Text-1640339319582, date: Date-1640339335659}
```

A DingTalk field is named by its component ``id`` or its ``bizAlias``; a WeCom field by its control ``id``
(never by the label people can rename). ``customer`` and ``date`` are required; ``place`` and ``amount`` are
optional. Mistakes raise :class:`ApprovalsError` with ``file:line: where: problem`` for every problem.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from config.rules import parse_yaml_model


class ApprovalsError(ValueError):
    """The approvals mapping is invalid; the message lists ``file:line: where: problem`` lines."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldMap(_Strict):
    customer: str = Field(min_length=1)
    date: str = Field(min_length=1)
    place: str | None = None
    amount: str | None = None


class DingTalkTemplate(_Strict):
    process_code: str | None = None
    biz_category_id: str | None = None
    name: str | None = None
    fields: FieldMap

    @model_validator(mode="after")
    def _one_key(self) -> DingTalkTemplate:
        if not (self.process_code or self.biz_category_id):
            raise ValueError("give process_code (PROC-…) or biz_category_id (e.g. the reimbursement suite)")
        return self


class WeComTemplate(_Strict):
    template_id: str = Field(min_length=1)
    name: str | None = None
    fields: FieldMap


class LinkRules(_Strict):
    tolerance: int = Field(default=1, ge=0, le=30)
    unit: Literal["working_days", "days"] = "working_days"
    #: how many of the applicant's recent visits the chat prompt offers, and how far back it looks
    offer_visits: int = Field(default=4, ge=1, le=10)  # + "record it now": 5 buttons (DingTalk max)
    recent_days: int = Field(default=30, ge=1, le=365)


class Approvals(_Strict):
    link: LinkRules = Field(default_factory=LinkRules)
    dingtalk: list[DingTalkTemplate] = Field(default_factory=list)
    wecom: list[WeComTemplate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Approvals:
        seen: set[str] = set()
        for t in self.dingtalk:
            for key in (f"process_code {t.process_code}", f"biz_category_id {t.biz_category_id}"):
                if not key.endswith(" None"):
                    if key in seen:
                        raise ValueError(f"dingtalk: {key} is mapped twice")
                    seen.add(key)
        ids = [t.template_id for t in self.wecom]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"wecom: template_id {sorted(dup)[0]} is mapped twice")
        return self

    def template_for(
        self, platform: str, template_code: str | None, category: str | None = None
    ) -> FieldMap | None:
        """The field mapping of an approval template, or None when it is no mapped expense template.
        A DingTalk process code wins over its category."""
        if platform == "dingtalk":
            for t in self.dingtalk:
                if template_code and t.process_code == template_code:
                    return t.fields
            for t in self.dingtalk:
                if category and t.biz_category_id == category:
                    return t.fields
        elif platform == "wecom":
            for w in self.wecom:
                if template_code and w.template_id == template_code:
                    return w.fields
        return None


def parse_approvals(text: str, source: str = "approvals.yaml") -> Approvals:
    return parse_yaml_model(
        text,
        source,
        Approvals,
        ApprovalsError,
        what="approvals",
        keys="link:, dingtalk:, wecom:",
        empty_ok=True,
    )


def load_approvals(path: Path | str | None = None) -> Approvals:
    """The mapping at `path` (default: settings.approvals_file); no file configured → nothing mapped."""
    if path is None:
        from config.settings import get_settings

        path = get_settings().approvals_file
        if path is None:
            return Approvals()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ApprovalsError(f"{p}: cannot read the approvals file: {exc.strerror}") from exc
    return parse_approvals(text, str(p))


@lru_cache(maxsize=1)
def get_approvals() -> Approvals:
    return load_approvals()


def reset_approvals() -> None:
    get_approvals.cache_clear()
