"""The daily push of screens.md (每日 08:30): the previous Beijing day's figures to every configured
channel, exactly once per (day, channel). The Dagster side is `jobs/push.py`."""
