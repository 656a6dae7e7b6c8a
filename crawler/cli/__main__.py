"""``python -m crawler.cli``: the ``yuqing`` command."""

from crawler.cli.app import main

main()
