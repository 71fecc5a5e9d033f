"""``python -m intraday_jules.cli`` (same as the ``intraday-jules`` console script)."""

from intraday_jules.cli import main

main()
