"""The BI dashboard of screens.md: eight screens over the warehouse, sign-in and per-shop access."""
