"""``yuqing train``: refit the complaint model (and optionally the sentiment model);
``yuqing train-sentiment``: rebuild the sentiment model from labelled CSV files."""

from __future__ import annotations

import hashlib
import json
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from crawler.cli._common import console
from crawler.errors import YuqingError


class TrainError(YuqingError):
    """Training data or options that cannot be used."""


TRAIN_MODULES = {"sklearn": "scikit-learn", "scipy": "scipy", "snownlp": "snownlp"}


def require_train_extra(modules: dict[str, str] = TRAIN_MODULES) -> None:
    """Training needs the ``train`` extra (the run time does not): say so in one line when it is missing."""

    missing = [dist for mod, dist in modules.items() if find_spec(mod) is None]
    if missing:
        raise TrainError(
            f"training needs {', '.join(missing)}, which a plain install leaves out: "
            "pip install 'yuqing[train]' (from a checkout: pip install -e '.[train]')"
        )


def train_command(
    data: Annotated[
        list[Path],
        typer.Option("--data", "-d", help="A label,text CSV or a folder of train.csv files; repeatable."),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Model file to write (default: the shipped model).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for the held-out split.")] = None,
    holdout: Annotated[
        float,
        typer.Option(
            "--holdout", min=0.0, max=0.5, help="Share of each file held out for the accuracy table."
        ),
    ] = 0.1,
    exclude: Annotated[
        list[Path] | None, typer.Option("--exclude", help="CSV whose texts are never trained on; repeatable.")
    ] = None,
    specialist: Annotated[
        list[str] | None,
        typer.Option(
            "--specialist",
            help="Dataset (folder or file stem) that gets its own head and domain gate; repeatable; 'none' for a single model. Default: weibo2018, waimai_10k, chnsenticorp_htl when present.",
        ),
    ] = None,
    max_features: Annotated[
        int, typer.Option("--max-features", min=1_000, help="Vocabulary size (most frequent n-grams).")
    ] = 400_000,
) -> None:
    """Train the sentiment model (same data and seed → same file). Prints accuracy on the held-out rows."""
    require_train_extra({"sklearn": "scikit-learn", "scipy": "scipy"})
    from sentiment import ngram, train

    target = out or ngram.SHIPPED_MODEL
    names = None if not specialist else [s for s in specialist if s.lower() != "none"]
    try:
        res = train.train(
            data,
            target,
            seed=train.DEFAULT_SEED if seed is None else seed,
            holdout=holdout,
            exclude=exclude or (),
            specialists=names,
            params=train.Params(max_features=max_features),
            log=lambda msg: console.print(msg, highlight=False),
        )
    except (ValueError, FileNotFoundError) as exc:
        raise TrainError(str(exc)) from exc
    table = Table(title="held-out accuracy", title_justify="left")
    table.add_column("data")
    table.add_column("accuracy", justify="right")
    for name, acc in res.accuracy.items():
        table.add_row(name, f"{acc:.4f}")
    console.print(table)
    digest = hashlib.sha256(Path(res.path).read_bytes()).hexdigest()[:16]
    console.print(
        f"[green]OK[/] {res.path}: version {res.version}, {res.features:,} features, "
        f"{res.train_rows:,} training rows, sha256 {digest}…, {res.seconds:.0f}s",
        highlight=False,
    )


def complaint_train_command(
    ctx: typer.Context,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            "-d",
            help="Your labelled mentions: JSON Lines in the RUBRIC record format (e.g. from 'yuqing complaints export-labels') or CSV with text,is_complaint[,category,urgency,…]; repeatable.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Model file to write (default: <data_dir>/models/complaint_model.npz)."
        ),
    ] = None,
    no_corpus: Annotated[
        bool, typer.Option("--no-corpus", help="Train on your files only, without the shipped corpus.")
    ] = False,
    no_cv: Annotated[
        bool, typer.Option("--no-cv", help="Skip the leave-one-domain-out report (faster).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Fit the complaint model on the shipped corpus plus your labels; print the grouped cross-validation."""

    from crawler.cli._common import state

    require_train_extra()
    from sentiment import complaint_model
    from sentiment import complaint_train as ct

    cfg = state(ctx).config()
    target = out or (cfg.data_path() / "models" / "complaint_model.npz")
    log = None if as_json else (lambda msg: console.print(msg, highlight=False))
    try:
        res = ct.train(
            target,
            extra=data or (),
            shipped_corpus=not no_corpus,
            cv=not no_cv,
            log=log,
            snow_cache=cfg.data_path() / "models" / "snownlp_cache.json",
            cfg=cfg,
        )
    except (ct.CorpusError, ValueError) as exc:
        raise TrainError(str(exc)) from exc
    if as_json:
        print(
            json.dumps(
                {
                    "path": str(res.path),
                    "version": res.version,
                    "records": res.records,
                    "complaints": res.complaints,
                    "features": res.features,
                    "folds": {
                        f.group: {
                            "ours": f.ours.row(),
                            "snownlp_f1": round(f.snownlp.f1, 4),
                            "majority": f.majority.row(),
                        }
                        for f in res.folds
                    },
                    "pooled": ct.pooled(res.folds) if res.folds else None,
                },
                ensure_ascii=False,
            )
        )
        return
    if res.folds:
        table = Table(
            title="leave one domain out (each row: fitted without that domain)", title_justify="left"
        )
        for col in (
            "held-out domain",
            "n",
            "F1",
            "F1 snownlp",
            "category",
            "cat. base",
            "urgency",
            "urg. base",
        ):
            table.add_column(col, justify="left" if col == "held-out domain" else "right")
        for f in res.folds:
            table.add_row(
                f.group,
                str(f.ours.n),
                f"{f.ours.f1:.3f}",
                f"{f.snownlp.f1:.3f}",
                f"{f.ours.category:.3f}",
                f"{f.majority.category:.3f}",
                f"{f.ours.urgency:.3f}",
                f"{f.majority.urgency:.3f}",
            )
        p = ct.pooled(res.folds)
        table.add_row(
            "pooled",
            str(sum(f.ours.n for f in res.folds)),
            f"{p['f1']:.3f}",
            f"{ct.pooled(res.folds, 'snownlp')['f1']:.3f}",
            f"{p['category']:.3f}",
            f"{ct.pooled(res.folds, 'majority')['category']:.3f}",
            f"{p['urgency']:.3f}",
            f"{ct.pooled(res.folds, 'majority')['urgency']:.3f}",
        )
        console.print(table)
    console.print(
        f"[green]OK[/] {res.path}: version {res.version}, {res.records:,} records "
        f"({res.complaints:,} complaints), {res.features:,} n-gram features, {res.seconds:.0f}s",
        highlight=False,
    )
    if out is None or Path(out).resolve() != complaint_model.SHIPPED.resolve():
        console.print(
            f'To use it, set in the config: [analysis] complaint_model = "{res.path}"',
            highlight=False,
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.command("train")(complaint_train_command)
    app.command("train-sentiment")(train_command)
