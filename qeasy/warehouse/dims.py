"""The dimensions `dim_sku` and `dim_shop` in ClickHouse, from cleansed SKU and shop rows."""

import polars as pl
from clickhouse_connect.driver.client import Client

from qeasy.warehouse.publish import insert, key_table, replace_all


def publish_skus(client: Client, rows: pl.DataFrame, found_by: str, labels: dict[str, str]) -> int:
    """Add the SKU versions dim_sku lacks (the newest `modified` wins); `found_by` says how they
    were found. Returns the versions added."""
    frame = rows.with_columns(
        enabled=pl.col("enabled").cast(pl.Int8, strict=False),
        enabled_label=pl.col("enabled").cast(pl.String).replace_strict(labels, default=None),
        version=pl.col("modified").dt.epoch("ms").fill_null(0).clip(lower_bound=0).cast(pl.UInt64),
        found_by=pl.lit(found_by),
    )
    if frame.height:  # a SKU re-read unchanged (the near-real-time pull's overlap) is not written again
        with key_table(client, frame.select(k=pl.col("sku_id").unique()), "k String") as keys:
            known = client.query_df_arrow(f"SELECT sku_id, version FROM dim_sku WHERE sku_id IN "
                                          f"(SELECT k FROM {keys})", dataframe_library="polars")
        frame = frame.join(known, on=["sku_id", "version"], how="anti")
    insert(client, "dim_sku", frame)
    return frame.height


def publish_shops(client: Client, rows: pl.DataFrame) -> int:
    """Replace the shop list (the API serves only the current one)."""
    replace_all(client, "dim_shop", rows.unique("shop_id", keep="last"))
    return rows.height


def missing_skus(client: Client, sku_ids: list[str]) -> list[str]:
    """Those of `sku_ids` that `dim_sku` lacks."""
    if not sku_ids:
        return []
    with key_table(client, pl.DataFrame({"k": sku_ids}, schema={"k": pl.String}), "k String") as keys:
        known = {row[0] for row in client.query(
            f"SELECT sku_id FROM dim_sku WHERE sku_id IN (SELECT k FROM {keys})").result_rows}
    return sorted(set(sku_ids) - known)


def sku_attributes(client: Client) -> pl.DataFrame:
    """sku_id -> name and category, for joining onto facts."""
    return client.query_df_arrow(
        "SELECT sku_id, name AS sku_name, category, i_id AS dim_i_id FROM v_dim_sku",
        dataframe_library="polars",
    )


def shop_names(client: Client) -> pl.DataFrame:
    return client.query_df_arrow(
        "SELECT shop_id, shop_name AS dim_shop_name FROM v_dim_shop", dataframe_library="polars"
    )
