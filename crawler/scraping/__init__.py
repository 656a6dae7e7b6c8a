"""The Scrapy machinery around the spiders: downloader middlewares, the item pipelines (normalise,
analyse, store, triage), extensions, the analysis pool, the Redis glue of distributed mode and file import."""
