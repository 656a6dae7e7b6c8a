"""The ``yuqing`` command line (Typer). Each command group lives in ``crawler/commands/<name>.py``.

A command module exposes ``register(app)``; this module discovers them, so adding a
command never edits this file. Any :class:`~crawler.errors.YuqingError` and any database
error (unreachable, missing, refused, corrupt, read-only) becomes one red line on stderr
naming the database with its password masked, and exit status 1 (2 for usage errors),
never a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

import crawler.commands
from crawler import __version__
from crawler.commands._common import State
from crawler.errors import YuqingError

app = typer.Typer(
    name="yuqing",
    help="yuqing — brand public-opinion monitor: crawl, analyse, alert, register complaints.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"yuqing {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: $YUQING_CONFIG or config/yuqing.toml).",
                     envvar="YUQING_CONFIG", show_envvar=True),
    ] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = State(config_path=config, log_level=log_level)


def _register_all() -> None:
    for mod in sorted(pkgutil.iter_modules(crawler.commands.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"crawler.commands.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def _fail(message: str) -> None:
    # The message may quote user input or scraped text: no Rich markup in it.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)


def _database_error(exc: DBAPIError) -> str:
    """One line for a driver error that reached the top: the database (masked) and the driver's reason.
    The traceback goes to the log file only (DEBUG), for whoever has to dig."""
    from loguru import logger

    from crawler.storage.engine import describe_error, last_url

    message = describe_error(exc, last_url())
    logger.opt(exception=exc).debug("database error: {message}", message=message)
    return message


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        # With standalone_mode=False the CLI returns the code of ``typer.Exit(n)``
        # instead of exiting: pass it on, or every failure would exit 0.
        code = app(args=argv, standalone_mode=False)
    except YuqingError as exc:
        _fail(str(exc))
        sys.exit(1)
    except DBAPIError as exc:
        _fail(_database_error(exc))
        sys.exit(1)
    except typer.Abort:
        err_console.print("[red]aborted[/]")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: bad option, missing argument (typer's own click)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _fail(exc.format_message())
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
