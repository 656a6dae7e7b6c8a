"""Generate an Alembic migration from the models: ``python scripts/new_migration.py "message" [--rev-id 0002]``.

It migrates a scratch SQLite database to head, then autogenerates the difference
between it and ``crawler/storage/models.py``. Review the file it writes.
Hand-written revisions that build on the one being regenerated (e.g. ``0002_fulltext``
on ``0001``) are set aside while it runs, so ``rm 0001_*.py`` + ``--rev-id 0001`` works.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command

from crawler.storage.engine import _MIGRATIONS, _alembic_config, make_engine, upgrade

_REV_RE = re.compile(r"^(down_revision|revision)\b[^=]*=\s*['\"]?(\w+)?", re.M)


@contextmanager
def _without_dangling(versions: Path) -> Iterator[None]:
    """Move aside revision files whose ancestor is missing; put them back afterwards."""
    files: dict[Path, tuple[str, str | None]] = {}
    for f in versions.glob("*.py"):
        found = dict(_REV_RE.findall(f.read_text(encoding="utf-8")))
        if found.get("revision"):
            files[f] = (found["revision"], found.get("down_revision") or None)
    present = {rev for rev, _ in files.values()}
    dangling: list[Path] = []
    changed = True
    while changed:
        changed = False
        for f, (rev, down) in files.items():
            if f not in dangling and down is not None and down not in present:
                dangling.append(f)
                present.discard(rev)
                changed = True
    with tempfile.TemporaryDirectory() as hold:
        for f in dangling:
            shutil.move(f, Path(hold) / f.name)
        try:
            yield
        finally:
            for f in dangling:
                shutil.move(Path(hold) / f.name, f)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("message")
    parser.add_argument("--rev-id", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, _without_dangling(_MIGRATIONS / "versions"):
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        upgrade(engine)
        cfg = _alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=args.message, autogenerate=True, rev_id=args.rev_id)


if __name__ == "__main__":
    main()
