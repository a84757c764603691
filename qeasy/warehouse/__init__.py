"""The ClickHouse warehouse: sessions, schema migrations, partition replacement, DWS and ADS."""
