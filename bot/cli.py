"""The `loopkeeper` console script (DESIGN §7)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlmodel import select

from config.logging import setup_logging
from config.settings import PlaceholderCredential, get_settings


def _echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def _settings() -> Any:
    try:
        return get_settings()
    except PlaceholderCredential as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


class _Group(click.Group):
    """Turns a database that was never migrated into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            text = str(exc.orig) if exc.orig is not None else str(exc)
            if "no such table" in text or "does not exist" in text:
                raise click.ClickException(
                    f"the database has no loopkeeper tables yet ({_redact(get_settings().database_url)}): "
                    "run `loopkeeper db upgrade` first"
                ) from exc
            raise click.ClickException(f"database error: {text.splitlines()[0]}") from exc


@click.group(cls=_Group)
@click.option("-v", "--verbose", is_flag=True, help="log at DEBUG")
def main(verbose: bool) -> None:
    """loopkeeper: capture sales facts from chat and guard the follow-ups."""
    settings = _settings()
    setup_logging(
        "DEBUG" if verbose else "WARNING" if settings.log_level == "INFO" else settings.log_level,
        settings.log_format,
    )


# --- database ------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default head)."""
    from core.migrate import upgrade

    upgrade(revision=revision)
    click.echo(f"database at {revision}: {_redact(get_settings().database_url)}")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# --- roster ----------------------------------------------------------------------------------------


@main.group()
def members() -> None:
    """Team members."""


@members.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def members_import(file: Path) -> None:
    """Import a roster CSV (name, role, region, manager, per-platform user ids, optional email)."""
    from core.db import session_scope
    from core.roster import ImportError_, import_members

    try:
        with session_scope() as session:
            s = import_members(session, file)
    except ImportError_ as exc:
        raise click.ClickException(f"{exc} (nothing was imported)") from exc
    click.echo(f"members: {s.created} created, {s.updated} updated")


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def customers(ctx: click.Context, as_json: bool) -> None:
    """List customers (or `customers import FILE`)."""
    if ctx.invoked_subcommand is not None:
        return
    from core.db import session_scope
    from core.views import customers_json

    with session_scope() as session:
        data = customers_json(session)
    if as_json:
        _echo_json(data)
        return
    for c in data:
        open_todos = sum(1 for t in c["todos"] if t["status"] == "open")
        click.echo(
            f"{c['name']}  [{c['stage'] or '-'} {c['level'] or '-'}]  owner {c['owner'] or '-'}  "
            f"pains {len(c['pain_points'])}  meetings {len(c['meetings'])}  samples {len(c['samples'])}  "
            f"open todos {open_todos}"
        )


@customers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def customers_import(file: Path) -> None:
    """Import customers CSV (name, aliases a|b, region, owner, stage, level[, stage_since])."""
    from core.db import session_scope
    from core.roster import ImportError_, import_customers

    try:
        with session_scope() as session:
            s = import_customers(session, file)
    except ImportError_ as exc:
        raise click.ClickException(f"{exc} (nothing was imported)") from exc
    click.echo(f"customers: {s.created} created, {s.updated} updated")


@main.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def customer(name: str, as_json: bool) -> None:
    """One customer's record: pain points, meetings, samples, todos, activities."""
    from core.customers import find_by_name
    from core.db import session_scope
    from core.views import customer_json

    with session_scope() as session:
        found = find_by_name(session, name)
        if not found:
            raise click.ClickException(f"no customer matches {name!r}")
        if len(found) > 1:
            raise click.ClickException(f"{name!r} is ambiguous: {', '.join(c.name for c in found)}")
        data = customer_json(session, found[0])
    if as_json:
        _echo_json(data)
        return
    click.echo(
        f"{data['name']}  {data['region'] or ''}  owner {data['owner'] or '-'}  "
        f"stage {data['stage'] or '-'}  level {data['level'] or '-'}"
    )
    sections = [
        ("pain points", [f"[{p['category']}] {p['text']}  ×{p['mentions']}" for p in data["pain_points"]]),
        ("meetings", [f"{m['start']}  {m['what']}  {m['status']}" for m in data["meetings"]]),
        ("samples", [f"{_amount(s)}{s['model']}  {s['status']}  due {s['due']}" for s in data["samples"]]),
        ("todos", [f"{t['id']} {t['status']:9} due {t['due']}  {t['title']}" for t in data["todos"]]),
    ]
    for title, lines in sections:
        click.echo(f"{title}:" if lines else f"{title}: none")
        for text in lines:
            click.echo(f"  {text}")
    click.echo(f"activities: {len(data['activities'])}")


def _amount(sample: dict[str, Any]) -> str:
    """ "2台 ", "3 units ", "" — a word unit gets a space after the number, a measure word does not."""
    qty, unit = sample.get("quantity"), sample.get("unit") or ""
    if qty is None and not unit:
        return ""
    number = "" if qty is None else (f"{qty:g}" if isinstance(qty, float) else str(qty))
    sep = " " if unit[:1].isascii() and unit[:1].isalpha() and number else ""
    return f"{number}{sep}{unit} "


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--status", default=None, help="open | done | cancelled")
def todos(as_json: bool, status: str | None) -> None:
    """Follow-up todos."""
    from core.db import session_scope
    from core.views import todos_json

    with session_scope() as session:
        data = todos_json(session, status=status)
    if as_json:
        _echo_json(data)
        return
    for t in data:
        click.echo(
            f"{t['id']:>5} {t['status']:9} due {t['due'] or '-':25} {t['owner'] or '-':10} {t['title']}"
        )


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--state", default=None, help="open | acked | snoozed | resolved")
def alerts(as_json: bool, state: str | None) -> None:
    """Alerts raised by the rules."""
    from core.db import session_scope
    from core.views import alerts_json

    with session_scope() as session:
        data = alerts_json(session, state=state)
    if as_json:
        _echo_json(data)
        return
    for a in data:
        click.echo(f"{a['id']:>5} {a['state']:8} {a['level']:8} {a['recipient'] or '-':10} {a['title']}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
def visits(as_json: bool) -> None:
    """Customer visits (from captures, the 拜访 command and expense claims)."""
    from core.db import session_scope
    from core.visits import visits_json

    with session_scope() as session:
        data = visits_json(session)
    if as_json:
        _echo_json(data)
        return
    for v in data:
        claims = ",".join(f"E{c}" for c in v["evidence"]["claim_ids"]) or "-"
        click.echo(
            f"{v['id']:>5} {v['at'][:16]:16} {v['rep'] or '-':8} {v['customer'] or '-':12} "
            f"{v['source']:8} claims {claims:8} {(v['result'] or '')[:40]}"
        )


@main.command()
@click.option("--now", "now_s", default=None, help="ISO 8601 with offset (default: now)")
def scan(now_s: str | None) -> None:
    """Run one rules pass."""
    from core.db import session_scope
    from core.scan import scan as run_scan
    from core.timeutil import parse_iso, utcnow

    try:
        now = parse_iso(now_s, "--now") if now_s else utcnow()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    with session_scope() as session:
        r = run_scan(session, now)
    extra = [
        f"{n} {what}"
        for n, what in ((r.escalated, "escalated"), (r.reopened, "reopened"), (r.digests, "digest(s)"))
        if n
    ]
    tail = f"; {', '.join(extra)}" if extra else ""
    click.echo(f"scan at {now.isoformat()}: {r.created} alert(s) raised, {r.resolved} resolved{tail}")


@main.command()
@click.argument("text")
@click.option("--as", "who", required=True, help="member name, email or platform user id")
@click.option("--now", "now_s", default=None, help="ISO 8601 with offset (default: now)")
@click.option("--json", "as_json", is_flag=True, help="print the Reply as JSON")
def ask(text: str, who: str, now_s: str | None, as_json: bool) -> None:
    """Run a bot command as MEMBER, with that member's scope (e.g. `ask "漏斗 all" --as 方琳`)."""
    from bot.handler import BotHandler
    from core.db import session_scope
    from core.queries import find_member
    from core.timeutil import parse_iso, utcnow

    try:
        now = parse_iso(now_s, "--now") if now_s else utcnow()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    with session_scope() as session:
        member = find_member(session, who)
        member_id = member.id if member is not None else None
    if member_id is None:
        raise click.ClickException(f"no active member named {who!r} (name, email or platform user id)")
    reply = BotHandler(enqueue=None, clock=lambda: now).ask(member_id, text)
    if as_json:
        _echo_json(reply.model_dump(mode="json"))
        return
    click.echo(f"# {reply.title}")
    if reply.body:
        click.echo(reply.body)
    for a in reply.actions:
        click.echo(f"[{a.label}] ({a.value})")


@main.command()
def sweep() -> None:
    """Re-enqueue inbox rows whose task was lost (what beat runs every 15 s)."""
    from core.tasks import sweep_inbox

    click.echo(f"re-enqueued {sweep_inbox.run()} conversation(s)")


# --- ingest ------------------------------------------------------------------------------------------


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["auto", "jsonl", "slack-export", "wecom-archive"]), default="auto"
)
@click.option(
    "--enqueue", is_flag=True, help="hand the work to running workers instead of applying in-process"
)
@click.option("--wait", is_flag=True, help="with --enqueue: return when the workers have applied everything")
@click.option(
    "--timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="with --wait: give up after this many seconds (and after 120 s without progress)",
)
def ingest(path: Path, fmt: str, enqueue: bool, wait: bool, timeout: float) -> None:
    """Backfill a chat export (JSONL, Slack export folder or zip) through the capture pipeline."""
    from bot.ingest import (
        IngestSummary,
        UnknownFormat,
        read_messages,
        wait_until_applied,
    )
    from bot.ingest import (
        ingest as run_ingest,
    )
    from integrations.common.jsonl import IngestFormatError

    summary = IngestSummary()
    try:
        messages = read_messages(path, fmt, summary)
    except (IngestFormatError, UnknownFormat) as exc:
        raise click.ClickException(f"{exc} (nothing was ingested)") from exc

    def bar(items: Iterable[Any]) -> Iterator[Any]:
        with click.progressbar(list(items), label="ingesting", file=sys.stderr) as it:
            yield from it

    enqueue_fn = None
    if enqueue:
        from core.tasks import enqueue_inbox

        enqueue_fn = enqueue_inbox
    run_ingest(messages, enqueue=enqueue_fn, progress=bar, summary=summary)
    for line in summary.lines():
        click.echo(line)
    if enqueue and wait:
        left = wait_until_applied(
            timeout,
            stall=min(120.0, timeout),
            report=lambda n: click.echo(f"waiting for the workers: {n} message(s) still pending", err=True),
        )
        if left:
            click.echo(
                f"{left} message(s) still pending: is a worker running? (`make run`, or "
                "`celery -A config.celery worker`; `loopkeeper apply` applies them in-process)"
            )
            raise SystemExit(1)
        click.echo("all applied by the workers")
    if summary.errors:
        raise SystemExit(1)


@main.command("apply")
def apply_cmd() -> None:
    """Apply every pending inbox row in-process (no workers needed); exit 1 if a row failed."""
    from bot.ingest import apply_pending

    summary = apply_pending()
    for line in summary.outcome_lines() or ["nothing pending"]:
        click.echo(line)
    if summary.errors:
        raise SystemExit(1)


# --- extraction -------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--now",
    "now_s",
    default=None,
    help="ISO 8601 (default: now); an offset in it wins over a --tz that disagrees",
)
@click.option("--tz", default=None, help="IANA zone or fixed offset (default: LOOPKEEPER_TIMEZONE)")
@click.option("--jsonl", "jsonl", default=None, help="FILE or - : lines of {id, text, now?, tz?}")
@click.option("--gazetteer", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.argument("text", required=False)
def extract(
    now_s: str | None, tz: str | None, jsonl: str | None, gazetteer: Path | None, text: str | None
) -> None:
    """Print the extraction of TEXT (or each --jsonl line) as JSON."""
    import nlp
    from core.timeutil import parse_tz
    from nlp.types import GazetteerEntry

    settings = _settings()
    if tz is not None:
        try:
            parse_tz(tz)
        except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise click.BadParameter(
                f"{tz!r} is not a time zone (an IANA name such as Asia/Shanghai, or +08:00)",
                param_hint="--tz",
            ) from exc
    gaz = None
    if gazetteer:
        import csv

        with gazetteer.open(encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if "name" not in (reader.fieldnames or []):
                raise click.ClickException(
                    f"{gazetteer}: the first line must name the columns, one of them 'name'"
                )
            gaz = [
                GazetteerEntry(name=r["name"], aliases=[a for a in (r.get("aliases") or "").split("|") if a])
                for r in reader
                if (r.get("name") or "").strip()
            ]

    def one(item_id: Any, t: str, n: str | None, z: str | None) -> dict[str, Any]:
        if not isinstance(t, str):
            raise ValueError(f"text must be a string, not {type(t).__name__}")
        if n is not None and not isinstance(n, str):
            raise ValueError("now must be an ISO 8601 string")
        if z is not None and not isinstance(z, str):
            raise ValueError("tz must be a string")
        zone = z or tz
        try:
            if zone:
                parse_tz(zone)
        except KeyError:
            raise ValueError(f"{zone!r} is not a time zone") from None
        if n:
            now = datetime.fromisoformat(n)
            if now.tzinfo is None:
                now = now.replace(tzinfo=parse_tz(zone or settings.timezone))
            elif zone and parse_tz(zone).utcoffset(now) != now.utcoffset():
                zone = None  # DESIGN §7: an offset in `now` wins over a zone that disagrees with it
        else:
            now = datetime.now(parse_tz(zone or settings.timezone))
        ex = nlp.extract(t, now=now, tz=zone or (None if n else settings.timezone), gazetteer=gaz)
        out: dict[str, Any] = {"id": item_id} if item_id is not None else {}
        out.update(ex.model_dump(mode="json"))
        if gaz is None:
            del out["customers"]  # DESIGN §7: `customers` appears when a gazetteer is given
        return out

    if jsonl:
        try:
            stream = sys.stdin if jsonl == "-" else open(jsonl, encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise click.ClickException(f"--jsonl {jsonl}: {exc.strerror or exc}") from exc
        with stream:
            for n, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise ValueError('a line is an object {"id", "text", "now"?, "tz"?}')
                    result = one(obj.get("id"), obj["text"], obj.get("now") or now_s, obj.get("tz"))
                except KeyError as exc:
                    raise click.ClickException(f"line {n}: missing field {exc}") from exc
                except ValueError as exc:
                    raise click.ClickException(f"line {n}: {exc}") from exc
                click.echo(_json_line(result))
        return
    if text is None:
        raise click.UsageError("give TEXT or --jsonl FILE")
    try:
        click.echo(_json_line(one(None, text, now_s, None)))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _json_line(obj: Any) -> str:
    """One JSON line, readable Chinese; \\u escapes only when something (an echoed id with a lone
    surrogate) cannot be written as UTF-8."""
    line = json.dumps(obj, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj)
    return line


# --- processes ------------------------------------------------------------------------------------


@main.command()
def info() -> None:
    """Where the service listens and what to configure next (printed by `make run`)."""
    s = get_settings()
    enabled = s.enabled_platforms()
    click.echo(f"loopkeeper web on http://{s.host}:{s.port}  (health: /healthz, API docs: /docs)")
    click.echo(f"database: {_redact(s.database_url)}")
    click.echo(f"broker:   {_redact(s.broker_url)}")
    click.echo(f"platforms enabled: {', '.join(enabled) or 'none'}")
    if not enabled:
        click.echo(
            "next: set LOOPKEEPER_SLACK__*, LOOPKEEPER_DINGTALK__* or LOOPKEEPER_WECOM__* "
            "(README 'Connecting a platform')"
        )
    lk = _console_script()
    click.echo(f"try: {lk} members import FILE; {lk} customers import FILE; {lk} ingest FILE")


def _console_script() -> str:
    """How to call this CLI from the current shell: `loopkeeper` when it is on PATH, else its path."""
    import shutil

    here = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    on_path = shutil.which("loopkeeper")
    if (
        here is not None
        and here.name == "loopkeeper"
        and on_path
        and Path(on_path).resolve() == here.resolve()
    ):
        return "loopkeeper"
    if here is not None and here.name == "loopkeeper":
        try:
            return str(here.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(here)
    return ".venv/bin/loopkeeper"


@main.command("wecom-token")
@click.argument("member")
@click.option("--days", default=30, show_default=True, help="how long the token is valid")
def wecom_token(member: str, days: int) -> None:
    """Print a 客户快记 sidebar token for use outside WeCom (MEMBER: name, email or WeCom userid)."""
    from sqlmodel import or_

    from core.db import session_scope
    from core.models import Member, PlatformIdentity
    from integrations.wecom.jssdk import SessionSigner, derive_key

    s = get_settings()
    key = derive_key(
        *(v.get_secret_value() if v else None for v in (s.wecom.session_secret, s.wecom.secret, s.api_token))
    )
    if key is None:
        raise click.ClickException(
            "set LOOPKEEPER_WECOM__SESSION_SECRET (or __SECRET / LOOPKEEPER_API_TOKEN)"
        )
    with session_scope() as session:
        ident = session.exec(
            select(PlatformIdentity).where(
                PlatformIdentity.platform == "wecom", PlatformIdentity.user_id == member
            )
        ).first()
        if ident is None:
            m = session.exec(select(Member).where(or_(Member.name == member, Member.email == member))).first()
            if m is not None:
                ident = session.exec(
                    select(PlatformIdentity).where(
                        PlatformIdentity.platform == "wecom", PlatformIdentity.member_id == m.id
                    )
                ).first()
        if ident is None:
            raise click.ClickException(f"{member}: no member with a WeCom userid (import it with the roster)")
        user_id = ident.user_id
    click.echo(SessionSigner(key).issue(user_id, ttl=days * 86400))


@main.command("dingtalk-stream")
def dingtalk_stream() -> None:
    """The DingTalk Stream client process (idles while DingTalk is not configured for stream mode)."""
    from bot.dingtalk_process import run

    run()


def _unused() -> None:  # keep select imported for plugins that extend the CLI
    _ = select


if __name__ == "__main__":  # pragma: no cover
    main()
