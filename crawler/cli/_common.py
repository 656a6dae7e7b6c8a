"""Shared plumbing for CLI commands: the loaded config, the database, the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from crawler.config import AppConfig

console = Console(soft_wrap=True)


@dataclass
class State:
    """What the root callback parsed; commands reach it as ``ctx.obj``."""

    config_path: str | None = None
    log_level: str | None = None
    _config: AppConfig | None = field(default=None, repr=False)
    _logging_done: bool = False

    def config(self) -> AppConfig:
        """Load (once) and return the validated config; set up logging."""
        if self._config is None:
            from crawler.config import load_config

            self._config = load_config(self.config_path)
        if not self._logging_done:
            from crawler.logging import setup_logging

            cfg = self._config
            setup_logging(
                self.log_level or cfg.project.log_level,
                log_dir=cfg.data_path() / "logs",
                json=cfg.project.log_json,
            )
            self._logging_done = True
        return self._config

    def engine(self, *, migrate: bool = True) -> Engine:
        """The database engine, migrated to head first."""
        from crawler.storage.engine import open_database

        return open_database(self.config().database_url, migrate=migrate)

    def writable_engine(self, command: str) -> Engine:
        """The engine for a command that writes all along (crawl, run, worker): a read-only SQLite
        file is refused up front with one line, instead of failing later inside a child process."""
        from crawler.errors import StorageError
        from crawler.storage.engine import read_only_reason, safe_url

        engine = self.engine()
        reason = read_only_reason(engine)
        if reason is not None:
            raise StorageError(
                f"the database {safe_url(str(engine.url))} is read-only ({reason}): "
                f"`yuqing {command}` needs to write; read-only use covers query, status, "
                "complaints list/show, report, export, db status and serve (reads)"
            )
        return engine


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):  # invoked without the root callback (tests)
        obj = State()
        ctx.find_root().obj = obj
    return obj
