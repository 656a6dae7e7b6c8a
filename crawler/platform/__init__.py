"""What the spiders build on: fault classification, normalisers, incremental state, login sessions,
cookies, request signing and the Playwright browser."""
