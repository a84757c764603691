"""Dagster sensors: stock-out and after-sale alerts, failed runs and failed blocking checks."""
