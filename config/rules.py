"""The rules file (config/rules.yaml, DESIGN §5): its schema and a loader whose errors name the line.

``get_rules()`` loads and validates once per process; ``LOOPKEEPER_RULES_FILE`` (settings.rules_file)
points at another file.
A mistake raises :class:`RulesError` with ``file:line: field: problem`` for every problem found.
"""

from __future__ import annotations

import re
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.yaml")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?[+-]\d{1,2}(?::?\d{2})?$")


class RulesError(ValueError):
    """The rules file is invalid; the message lists ``file:line: where: problem`` lines."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_hhmm(v: str) -> str:
    if not _HHMM.match(v):
        raise ValueError(f"{v!r} is not a time of day HH:MM")
    return v


def _check_tz(v: str) -> str:
    if _OFFSET.match(v.strip()):
        return v
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {v!r} (an IANA name such as Asia/Shanghai, or +08:00)") from exc
    return v


def _check_country(v: str) -> str:
    import holidays

    if v not in holidays.list_supported_countries():
        raise ValueError(f"{v!r} is not a country the holidays package knows (e.g. CN)")
    return v


def hhmm(v: str) -> time:
    h, m = v.split(":")
    return time(int(h), int(m))


class Duration(_Strict):
    minutes: int | None = Field(default=None, ge=0)
    hours: int | None = Field(default=None, ge=0)
    days: int | None = Field(default=None, ge=0)
    working_days: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Duration:
        given = [k for k in ("minutes", "hours", "days", "working_days") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of minutes, hours, days, working_days")
        return self


class QuietHours(_Strict):
    start: str = "22:00"
    end: str = "08:00"
    _v = field_validator("start", "end")(_check_hhmm)


class Defaults(_Strict):
    timezone: str = "Asia/Shanghai"
    calendar: str = "CN"
    quiet_hours: QuietHours = QuietHours()
    morning_digest: str = "08:30"
    end_of_day: str = "18:00"
    _tz = field_validator("timezone")(_check_tz)
    _cal = field_validator("calendar")(_check_country)
    _t = field_validator("morning_digest", "end_of_day")(_check_hhmm)


class CalendarOverrides(_Strict):
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> CalendarOverrides:
        both = set(self.holidays) & set(self.workdays)
        if both:
            raise ValueError(f"{sorted(both)[0]} is listed as both a holiday and a working day")
        return self


class TeamRules(_Strict):
    name: str
    timezone: str | None = None
    calendar: str | None = None
    quiet_hours: QuietHours | None = None
    morning_digest: str | None = None
    regions: list[str] = Field(default_factory=list)
    calendar_overrides: CalendarOverrides | None = None
    _tz = field_validator("timezone")(lambda v: v if v is None else _check_tz(v))
    _cal = field_validator("calendar")(lambda v: v if v is None else _check_country(v))
    _t = field_validator("morning_digest")(lambda v: v if v is None else _check_hhmm(v))


CheckName = Literal[
    "pain_points", "meeting_held", "attachment", "valid_days", "contact", "evidence", "amount"
]


class Requirement(_Strict):
    check: CheckName
    label: str
    min: int = Field(default=1, ge=0)
    kind: str | None = None  # attachment kind
    key: str | None = None  # evidence key

    @model_validator(mode="after")
    def _params(self) -> Requirement:
        if self.check == "attachment" and not self.kind:
            raise ValueError("an attachment check needs `kind` (e.g. signed_quote)")
        if self.check in ("valid_days", "evidence") and not self.key:
            raise ValueError(f"a {self.check} check needs `key` (the evidence field)")
        return self


class StageRule(_Strict):
    name: str
    requires: list[Requirement] = Field(default_factory=list)


class LevelRule(_Strict):
    name: Literal["A", "B", "C", "D", "E"]
    label: str
    requires: list[Requirement] = Field(default_factory=list)


Role = Literal["owner", "manager", "director", "audience"]
Condition = Literal[
    "lead_untouched",
    "stage_unchanged",
    "todo_past_due",
    "level_unchanged",
    "meeting_upcoming",
    "policy_unacknowledged",
]


class EscalationStep(_Strict):
    after: Duration
    to: Role


class TodoSpec(_Strict):
    title: str
    due: Duration


class SlaRule(_Strict):
    id: str
    condition: Condition
    threshold: Duration
    level: Literal["info", "warning", "critical"] = "warning"
    notify: list[Role] = Field(min_length=1)
    copy_to: list[Role] = Field(default_factory=list, alias="copy")
    escalation: list[EscalationStep] = Field(default_factory=list)
    todo: TodoSpec | None = None
    deal_level: Literal["A", "B", "C", "D", "E"] | None = None
    lower_priority_to: str | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _needs(self) -> SlaRule:
        if self.condition == "level_unchanged" and self.deal_level is None:
            raise ValueError("condition level_unchanged needs `deal_level` (A–E)")
        return self


class Followups(_Strict):
    sample_send: Duration = Duration(working_days=2)
    trial_follow_up: Duration = Duration(working_days=3)
    meeting_outcome_after: Duration = Duration(minutes=0)


class Rules(_Strict):
    version: Literal[1] = 1
    defaults: Defaults = Defaults()
    teams: list[TeamRules] = Field(default_factory=list)
    calendar_overrides: CalendarOverrides = CalendarOverrides()
    stages: list[StageRule] = Field(min_length=1)
    levels: list[LevelRule] = Field(default_factory=list)
    sla: list[SlaRule] = Field(default_factory=list)
    followups: Followups = Followups()

    @model_validator(mode="after")
    def _unique(self) -> Rules:
        for what, names in (
            ("stages", [s.name for s in self.stages]),
            ("levels", [lv.name for lv in self.levels]),
            ("sla", [r.id for r in self.sla]),
            ("teams", [t.name for t in self.teams]),
        ):
            seen: set[str] = set()
            for n in names:
                if n in seen:
                    raise ValueError(f"{what}: {n!r} appears twice")
                seen.add(n)
        return self

    # --- lookups ---------------------------------------------------------------------------------
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def level_names(self) -> list[str]:
        return [lv.name for lv in self.levels]

    def rule(self, rule_id: str) -> SlaRule | None:
        for r in self.sla:
            if r.id == rule_id and r.enabled:
                return r
        return None

    def rules_for(self, condition: str) -> list[SlaRule]:
        return [r for r in self.sla if r.condition == condition and r.enabled]


# --- loading with line numbers ---------------------------------------------------------------------


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest YAML node on the pydantic error path."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == part or (part == "copy_to" and k.value == "copy"):
                    nxt = v
                    line = k.start_mark.line + 1
                    break
            if nxt is None:
                break
            node = nxt
            if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
                line = node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


_M = TypeVar("_M", bound=BaseModel)


def parse_yaml_model(
    text: str,
    source: str,
    model: type[_M],
    error: type[ValueError],
    *,
    what: str,
    keys: str,
    empty_ok: bool = False,
) -> _M:
    """Parse a YAML config file into `model`; every problem is raised as `error` naming file, line and field
    ("rules.yaml:81: sla.1.threshold.weeks: Extra inputs are not permitted"). Shared by the rules and the
    approvals file."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise error(f"{where}: not valid YAML: {exc.problem}") from exc
    if data is None and empty_ok:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{source}:1: the {what} file must be a mapping ({keys})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            line = _line_of(node, loc)
            path = ".".join(str(p) for p in loc) or "(top)"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{source}:{line or '?'}: {path}: {msg}")
        raise error(f"invalid {what} file\n" + "\n".join(lines)) from None


def parse_rules(text: str, source: str = "rules.yaml") -> Rules:
    return parse_yaml_model(text, source, Rules, RulesError, what="rules", keys="stages:, sla:, …")


def load_rules(path: Path | str | None = None) -> Rules:
    if path is None:
        from config.settings import get_settings

        path = get_settings().rules_file or DEFAULT_RULES_FILE
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{p}: cannot read the rules file: {exc.strerror}") from exc
    return parse_rules(text, str(p))


@lru_cache(maxsize=1)
def get_rules() -> Rules:
    return load_rules()


def reset_rules() -> None:
    get_rules.cache_clear()
