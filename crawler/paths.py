"""Where yuqing keeps its files: the data directory (database, logs, sessions, caches), and
where its own files (package data: word lists, models, templates, migrations, dashboard
assets) are.

Relative paths are resolved against the working directory, like the default config
path ``config/yuqing.toml``; ``YUQING_DATA_DIR`` overrides the configured data dir.
Package data is found through ``importlib.resources``, never relative to a checkout, so a
wheel install reads the same files.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

DEFAULT_CONFIG_PATH = Path("config/yuqing.toml")


def package_path(package: str, *parts: str) -> Path:
    """A file or folder shipped inside ``package`` (installed as files: yuqing is not zip-safe)."""
    return Path(str(resources.files(package).joinpath(*parts)))


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to load: ``--config``, else ``YUQING_CONFIG``, else the default."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("YUQING_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG_PATH


def data_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The data directory, created on first use."""
    raw = os.environ.get("YUQING_DATA_DIR") or configured or "data"
    path = Path(raw).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
