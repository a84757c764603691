"""Ingestion: pulling ERP datasets day by day with no row lost and none duplicated."""
