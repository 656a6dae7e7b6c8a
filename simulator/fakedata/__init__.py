"""Realistic fake data for tests, screenshots and benchmarks: mentions, and a filled database."""
