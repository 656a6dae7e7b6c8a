"""A loopback stand-in for the chat robots and webhooks, for tests and ``yuqing demo``."""
