"""The ERP datasets as data: one row per endpoint (path, rows key, paging, window, cursor, key).

Adding a dataset means adding a row here; the client, the sandbox and the assets read this table.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Endpoint:
    """How one dataset is read from the open API."""

    dataset: str
    description: str  # one line for the people who read the asset in the UI
    path: str
    rows_key: str | None  # None: `data` itself is the array of rows
    page_size_default: int
    page_size_max: int
    primary_key: tuple[str, ...]
    window_days: int | None = None  # longest allowed time window; None: no window
    window_params: tuple[str, str] = ("modified_begin", "modified_end")
    cursor_param: str | None = None  # row-version cursor parameter (`ts` / `start_ts`)
    version_field: str | None = "ts"  # field that orders versions of a record
    has_next: bool = True  # False: the last page is a short page
    has_counts: bool = True  # reports `data_count` / `page_count`
    id_params: dict[str, int] = field(default_factory=dict)  # id-list lookups -> max ids


ENDPOINTS: dict[str, Endpoint] = {
    e.dataset: e
    for e in (
        Endpoint(
            dataset="inventory",
            description="Stock per SKU over all warehouses (库存), as last reported, by modification day.",
            path="/open/inventory/query",
            rows_key="inventorys",
            page_size_default=30,
            page_size_max=100,
            primary_key=("sku_id",),
            window_days=7,
            cursor_param="ts",
            id_params={"sku_ids": 100},
        ),
        Endpoint(
            dataset="sales_out",
            description="Sales-out orders (销售出库单) with item lines, by modification day.",
            path="/open/orders/out/simple/query",
            rows_key="datas",
            page_size_default=30,
            page_size_max=50,
            primary_key=("io_id",),
            window_days=7,
            cursor_param="start_ts",
            id_params={"so_ids": 20, "o_ids": 20, "io_ids": 20},
        ),
        Endpoint(
            dataset="after_sale",
            description="After-sale orders (售后单): returns, refunds, exchanges, by modification day.",
            path="/open/refund/single/query",
            rows_key="datas",
            page_size_default=30,
            page_size_max=50,
            primary_key=("as_id",),
            window_days=7,
            cursor_param="start_ts",
            id_params={"as_ids": 20, "so_ids": 20, "o_ids": 20},
        ),
        Endpoint(
            dataset="sku",
            description="SKU master data (商品资料): names, prices, categories, by modification day.",
            path="/open/sku/query",
            rows_key="datas",
            page_size_default=30,
            page_size_max=50,
            primary_key=("sku_id",),
            window_days=7,
            version_field="modified",
            id_params={"sku_ids": 20},
        ),
        Endpoint(
            dataset="shop",
            description="The merchant's shops (店铺) across platforms: the current list.",
            path="/open/shops/query",
            rows_key="datas",
            page_size_default=100,
            page_size_max=100,
            primary_key=("shop_id",),
            version_field=None,
            has_counts=False,
        ),
        Endpoint(
            dataset="unique_code",
            description="Unique-code stock flow (唯一码进出流水): serial units in and out, by creation day.",
            path="/open/webapi/wmsapi/skusn/queryinoutitemskusns",
            rows_key=None,
            page_size_default=1000,
            page_size_max=1000,
            primary_key=("sku_sn", "io_id", "inout_type"),
            window_days=30,
            window_params=("create_time_start", "create_time_end"),
            version_field="modified_time",
            has_next=False,
            has_counts=False,
            id_params={"io_ids": 100, "o_ids": 100},
        ),
    )
}

TOKEN_PATHS = {
    "init": "/openWeb/auth/getInitToken",
    "access": "/openWeb/auth/accessToken",
    "refresh": "/openWeb/auth/refreshToken",
}

BY_PATH: dict[str, Endpoint] = {e.path: e for e in ENDPOINTS.values()}
