"""The long-running service: the job plan and its scheduler, crawl supervision in subprocesses,
workers, hot-list watching and crisis tracking, crawl health, logins and ``yuqing doctor``."""
