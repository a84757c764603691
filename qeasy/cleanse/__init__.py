"""DWD cleansing: raw ODS payloads to typed, flagged rows (polars), and what goes to quarantine."""
