"""Dagster ConfigurableResources: the ERP client, DuckDB staging and ClickHouse."""
