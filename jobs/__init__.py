"""Dagster jobs and schedules: the main job, the near-real-time pull, the T-1 refresh, replays."""
