"""``yuqing train-sentiment``: rebuild the sentiment model from labelled CSV files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from crawler.commands._common import console
from crawler.errors import YuqingError


class TrainError(YuqingError):
    """Training data or options that cannot be used."""


def train_command(
    data: Annotated[list[Path], typer.Option("--data", "-d", help="A label,text CSV or a folder of train.csv files; repeatable.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Model file to write (default: the shipped model).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for the held-out split.")] = None,
    holdout: Annotated[float, typer.Option("--holdout", min=0.0, max=0.5, help="Share of each file held out for the accuracy table.")] = 0.1,
    exclude: Annotated[list[Path] | None, typer.Option("--exclude", help="CSV whose texts are never trained on; repeatable.")] = None,
    specialist: Annotated[list[str] | None, typer.Option("--specialist", help="Dataset (folder or file stem) that gets its own head and domain gate; repeatable; 'none' for a single model. Default: weibo2018, waimai_10k, chnsenticorp_htl when present.")] = None,
    max_features: Annotated[int, typer.Option("--max-features", min=1_000, help="Vocabulary size (most frequent n-grams).")] = 400_000,
) -> None:
    """Train the sentiment model (same data and seed → same file). Prints accuracy on the held-out rows."""
    from sentiment import ngram, train

    target = out or ngram.SHIPPED_MODEL
    names = None if not specialist else [s for s in specialist if s.lower() != "none"]
    try:
        res = train.train(data, target, seed=train.DEFAULT_SEED if seed is None else seed, holdout=holdout,
                          exclude=exclude or (), specialists=names, params=train.Params(max_features=max_features),
                          log=lambda msg: console.print(msg, highlight=False))
    except (ValueError, FileNotFoundError) as exc:
        raise TrainError(str(exc)) from exc
    table = Table(title="held-out accuracy", title_justify="left")
    table.add_column("data")
    table.add_column("accuracy", justify="right")
    for name, acc in res.accuracy.items():
        table.add_row(name, f"{acc:.4f}")
    console.print(table)
    digest = hashlib.sha256(Path(res.path).read_bytes()).hexdigest()[:16]
    console.print(f"[green]OK[/] {res.path}: version {res.version}, {res.features:,} features, "
                  f"{res.train_rows:,} training rows, sha256 {digest}…, {res.seconds:.0f}s", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("train-sentiment")(train_command)
