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
            setup_logging(self.log_level or cfg.project.log_level, log_dir=cfg.data_path() / "logs",
                          json=cfg.project.log_json)
            self._logging_done = True
        return self._config

    def engine(self, *, migrate: bool = True) -> Engine:
        """The database engine, migrated to head first."""
        from crawler.storage.engine import open_database

        return open_database(self.config().database_url, migrate=migrate)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):  # invoked without the root callback (tests)
        obj = State()
        ctx.find_root().obj = obj
    return obj
