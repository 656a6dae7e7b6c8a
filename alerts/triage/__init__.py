"""Triage: freshly stored mentions → events, surges, pacing, immediate alerts, digests, summaries,
hot-list alerts and crisis watches."""
