"""Optional sinks: published tables copied to databases outside the warehouse (MySQL/MariaDB)."""
