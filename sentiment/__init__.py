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

from sentiment.analyzer import Analysis, analyze, analyze_many, configure, score_sentiment

__all__ = ["Analysis", "analyze", "analyze_many", "configure", "score_sentiment"]
