"""Delivery: the outbox and its ledger, the dispatcher, payloads, rendering and formats per channel,
escaping, and the channels themselves."""
