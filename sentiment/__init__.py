"""Text analysis for yuqing: segmentation, sentiment, complaint risk, PII masking, fingerprints.

Public API (see CONTRACTS.md "Analysis")::

    import sentiment
    sentiment.configure(cfg)                 # brands, lexicons, thresholds (idempotent, optional)
    a = sentiment.analyze("鲜果时光的橙汁喝出异物，要求退款！", platform="weibo", likes=12)
    a.is_complaint, a.category, a.urgency, a.risk, a.reasons, a.columns()
    sentiment.analyze_many([{"text": ..., "platform": ..., "likes": ...}, ...])

Submodules: ``segment`` (tokenize, search_tokens), ``pii`` (mask), ``fingerprint``
(simhash, hamming), ``ngram`` (the shipped sentiment model), ``train`` (retraining).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentiment.analyzer import Analysis, analyze, analyze_many, configure, score_sentiment

__all__ = ["Analysis", "analyze", "analyze_many", "configure", "score_sentiment"]


def __getattr__(name: str) -> Any:
    # The analyser (numpy, the models) loads on first use, so code that needs only a light
    # submodule (``sentiment.pii`` to mask text, ``sentiment.fingerprint``) does not pay for it:
    # the scheduler, the dispatcher and the read side import those.
    if name in __all__:
        return getattr(importlib.import_module("sentiment.analyzer"), name)
    raise AttributeError(f"module 'sentiment' has no attribute {name!r}")
