"""The ``yuqing`` command line (Typer). Each command group lives in ``crawler/cli/<name>.py``.

A command module exposes ``register(app)``; this module discovers them, so adding a
command never edits this file. Any :class:`~crawler.errors.YuqingError`, any database
error (unreachable, missing, refused, corrupt, read-only; the database named with its
password masked) and any file error (a folder where a file should be, no permission, a
full disk) becomes one red line on stderr and exit status 1, never a traceback. Usage
errors (unknown command or option, a bad value, a missing argument) print the usage line,
a hint and one error line, and exit 2.

Help texts are plain (no Rich markup), so ``[section]`` names in them are shown as written.
Short options mean one thing everywhere: ``-c`` is ``--config``, ``-o`` is where the
output goes (a file, or the folder ``report`` writes into), ``-b`` the brand, ``-p`` the
platform, ``-f`` the format, ``-n`` a count.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Annotated, Literal

import typer
from loguru import logger
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

import crawler.cli
from crawler import __version__, clock
from crawler.cli._common import State
from crawler.errors import YuqingError

app = typer.Typer(
    name="yuqing",
    help="yuqing — brand public-opinion monitor: crawl, analyse, alert, register complaints.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # yuqing --install-completion [bash|zsh|fish|powershell]
    rich_markup_mode=None,  # Rich markup would eat every "[section]" of the help texts
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
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: $YUQING_CONFIG or config/yuqing.toml).",
            envvar="YUQING_CONFIG",
            show_envvar=True,
        ),
    ] = None,
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None,
        typer.Option("--log-level", case_sensitive=False, help="Log level (default [project].log_level)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = State(config_path=config, log_level=log_level)


def _register_all() -> None:
    for mod in sorted(pkgutil.iter_modules(crawler.cli.__path__), key=lambda m: m.name):
        if mod.name.startswith("_") or mod.name == "app":
            continue
        module = importlib.import_module(f"crawler.cli.{mod.name}")
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

    from crawler.storage.engine import describe_error, last_url

    message = describe_error(exc, last_url())
    logger.opt(exception=exc).debug("database error: {message}", message=message)
    return message


def _file_error(exc: OSError) -> str:
    """One line for a file the command could not read or write; the traceback goes to the log (DEBUG)."""

    logger.opt(exception=exc).debug("file error: {}", exc)
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, IsADirectoryError):
        reason += " (give a file name inside it)"
    elif isinstance(exc, NotADirectoryError | FileExistsError):
        reason += " (a file is in the way of a folder)"
    where = exc.filename if exc.filename is not None else ""
    return f"{where}: {reason}" if where else reason


def _usage_error(exc: Exception) -> None:
    """The usage line, the help hint and the error on one line (click spreads a missing
    choice's options over several lines, and typer's coercion prefixes "Value error, ")."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # `yuqing db`: the group's help is the answer
        exc.show()  # type: ignore[attr-defined]
        return
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        typer.echo(ctx.get_usage(), err=True)
        typer.echo(f"Try '{ctx.command_path} --help' for help.\n", err=True)
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    message = " ".join(message.replace(", Value error, ", ": ").replace("Value error, ", "").split())
    typer.echo(f"Error: {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        # With standalone_mode=False the CLI returns the code of ``typer.Exit(n)``
        # instead of exiting: pass it on, or every failure would exit 0.
        clock.utcnow()  # a malformed YUQING_CLOCK_OFFSET_SECONDS: one line from every command
        code = app(args=argv, prog_name="yuqing", standalone_mode=False)
    except YuqingError as exc:
        _fail(str(exc))
        sys.exit(1)
    except DBAPIError as exc:
        _fail(_database_error(exc))
        sys.exit(1)
    except BrokenPipeError:  # `yuqing query -f json | head`: the reader has what it wanted
        sys.exit(1)
    except OSError as exc:
        _fail(_file_error(exc))
        sys.exit(1)
    except typer.Abort:
        err_console.print("[red]aborted[/]")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: bad option, missing argument (typer's own click)
        _usage_error(exc)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
