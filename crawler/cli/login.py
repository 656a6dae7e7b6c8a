"""``yuqing login``: store a platform session (QR login or a cookie file) and show session status."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.markup import escape

from crawler.cli._choices import LoginPlatform
from crawler.cli._common import console, state
from crawler.errors import YuqingError


def _import_cookie_file(cfg, platform: str, account: str, cookie_file: str) -> None:  # type: ignore[no-untyped-def]
    from crawler.platform.sessions import Session, SessionStore, read_cookie_file
    from crawler.service.login import SPECS, check_session

    cookies = read_cookie_file(cookie_file)
    missing = [name for name in SPECS[platform].required if not cookies.get(name)]
    if missing:
        console.print(
            f"[yellow]warning:[/] the cookies lack {', '.join(missing)}; the platform may refuse them",
            highlight=False,
        )
    store = SessionStore.from_config(cfg)
    session = Session(platform, account, cookies, source="cookie-file")
    path = store.save(session)
    console.print(
        f"[green]saved[/] {len(cookies)} cookies for {platform}/{account} to {path}", highlight=False
    )
    _report_check(cfg, store, session, check_session(cfg, session))


def _report_check(cfg, store, session, check) -> None:  # type: ignore[no-untyped-def]
    if check.ok is True:
        store.mark(session.platform, session.account, "ok")
        console.print(f"[green]accepted[/] by {session.platform}: {check.detail}", highlight=False)
    elif check.ok is False:
        store.mark(session.platform, session.account, "expired", check.detail)
        console.print(f"[red]rejected[/] by {session.platform}: {check.detail}", highlight=False)
    else:
        console.print(f"[yellow]not checked:[/] {check.detail}", highlight=False)


def _status(cfg, platforms: list[str], check: bool, as_json: bool = False) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from crawler.platform.sessions import SessionStore, login_command
    from crawler.service.login import check_session

    store = SessionStore.from_config(cfg)
    table = Table("platform", "account", "source", "saved", "state", "platform says")
    rows: list[dict[str, object]] = []
    # Next steps go below the table: a wrapped table cell would split the command.
    todo: list[str] = []
    for platform in platforms:
        sessions = store.candidates(platform, cfg)
        if not sessions:
            table.add_row(platform, "-", "-", "-", "[red]none[/]", "-")
            rows.append(
                {"platform": platform, "account": None, "state": "none", "fix": login_command(platform)}
            )
            todo.append(f"{platform}: no session; run: {login_command(platform)}")
            continue
        for s in sessions:
            saved = s.saved_at.strftime("%Y-%m-%d %H:%M") if s.saved_at else "-"
            verdict, said = "-", None
            if check:
                result = check_session(cfg, s)
                if result.ok is not None:
                    if s.stored:
                        store.mark(
                            platform,
                            s.account,
                            "ok" if result.ok else "expired",
                            None if result.ok else result.detail,
                        )
                    s.status = "ok" if result.ok else "expired"
                said = {"ok": result.ok, "detail": result.detail}
                verdict = {True: "[green]valid[/]", False: "[red]expired[/]", None: "[yellow]unknown[/]"}[
                    result.ok
                ] + f" ({escape(result.detail)})"
                if result.ok is False:
                    todo.append(
                        f"{platform}/{s.account}: session expired; run: {login_command(platform, s.account)}"
                    )
            state_ = "[red]expired[/]" if s.expired else "ok"
            table.add_row(platform, escape(s.account), s.source, saved, state_, verdict)
            rows.append(
                {
                    "platform": platform,
                    "account": s.account,
                    "source": s.source,
                    "saved_at": s.saved_at.isoformat() if s.saved_at else None,
                    "state": "expired" if s.expired else "ok",
                    "platform_says": said,
                    "fix": login_command(platform, s.account)
                    if s.expired or (said and said["ok"] is False)
                    else None,
                }
            )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    console.print(table)
    for line in todo:
        console.print(escape(line), highlight=False, soft_wrap=True)


def login_cmd(
    ctx: typer.Context,
    platform: Annotated[
        LoginPlatform | None, typer.Argument(help="The platform to log in to.", show_default=False)
    ] = None,
    cookie_file: Annotated[
        str | None, typer.Option("--cookie-file", help="Import a cookie string/JSON/cookies.txt.")
    ] = None,
    account: Annotated[
        str, typer.Option("--account", "-a", help="Account name (several per platform).")
    ] = "default",
    status: Annotated[
        bool, typer.Option("--status", help="List sessions and ask each platform if it accepts them.")
    ] = False,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="With --status: do not contact the platforms.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the QR scan.")] = 300.0,
    headless: Annotated[
        bool | None, typer.Option("--headless/--headed", help="Default: headed when a display exists.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --status: print JSON.")] = False,
) -> None:
    """Log in to a platform: scan a QR code, or import cookies with --cookie-file; --status checks sessions."""
    from crawler.service.login import LOGIN_PLATFORMS, qr_login

    cfg = state(ctx).config()
    if platform is not None and platform not in LOGIN_PLATFORMS:
        raise YuqingError(f"unknown platform {platform!r} for login (use {', '.join(LOGIN_PLATFORMS)})")
    if status:
        _status(cfg, [platform] if platform else list(LOGIN_PLATFORMS), check=not no_check, as_json=as_json)
        return
    if platform is None:
        raise YuqingError("name a platform: yuqing login xiaohongshu|douyin|weibo (or --status)")
    if cookie_file:
        _import_cookie_file(cfg, platform, account, cookie_file)
        return
    result = asyncio.run(
        qr_login(
            cfg,
            platform,
            account=account,
            timeout=timeout,
            headless=headless,
            announce=lambda line: console.print(line, highlight=False, soft_wrap=True),
        )
    )
    console.print(
        f"[green]logged in[/] to {platform} as account {account}; session saved to {result.path}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("login")(login_cmd)
