"""The warehouse schema as versioned, additive migrations, applied automatically and recorded.

A change to the contract is a new entry at the end of MIGRATIONS (`ADD COLUMN IF NOT EXISTS`,
a new table or view); entries already applied are never edited. Every statement is idempotent,
so two processes migrating a server at once do no harm.
"""

TIME = "DateTime64(3, 'Asia/Shanghai')"
MONEY = "Decimal(18, 2)"
FLAGS = "is_anomaly UInt8, anomaly_reason String"


# The columns of the tables republished by migration 4 (their first engines are in INITIAL).
COLUMNS = {
    "dws_sale_out": f"""
        io_id Int64, ioi_id Int64, o_id Nullable(Int64), so_id Nullable(String), shop_id Nullable(Int64),
        shop_name Nullable(String), wms_co_id Nullable(Int64), status Nullable(String),
        status_label Nullable(String), io_date Nullable({TIME}), sku_id Nullable(String),
        i_id Nullable(String), sku_name Nullable(String), category Nullable(String), qty Nullable(Int64),
        sale_price Nullable({MONEY}), sale_amount Nullable({MONEY}), is_gift UInt8,
        modified Nullable({TIME}), ts UInt64, {FLAGS}, sku_missing UInt8, biz_date Date, source_day Date""",
    "dws_after_sale": f"""
        as_id Int64, asi_id Int64, o_id Nullable(Int64), so_id Nullable(String), shop_id Nullable(Int64),
        shop_name Nullable(String), type Nullable(String), status Nullable(String),
        status_label Nullable(String), good_status Nullable(String), shop_status Nullable(String),
        as_date Nullable({TIME}), confirm_date Nullable({TIME}), refund Nullable({MONEY}),
        sku_id Nullable(String), i_id Nullable(String), sku_name Nullable(String), category Nullable(String),
        qty Nullable(Int64), r_qty Nullable(Int64), price Nullable({MONEY}), amount Nullable({MONEY}),
        is_refund UInt8, modified Nullable({TIME}), ts UInt64, {FLAGS}, sku_missing UInt8, biz_date Date,
        source_day Date""",
    "dws_inventory": f"""
        sku_id String, i_id Nullable(String), sku_name Nullable(String), category Nullable(String),
        qty Nullable(Int64), order_lock Nullable(Int64), pick_lock Nullable(Int64),
        virtual_qty Nullable(Int64), purchase_qty Nullable(Int64), return_qty Nullable(Int64),
        min_qty Nullable(Int64), max_qty Nullable(Int64), modified Nullable({TIME}), ts UInt64, {FLAGS},
        sku_missing UInt8, source_day Date""",
    "dws_inventory_daily": """
        stat_date Date, sku_id String, end_qty Nullable(Int64), min_qty Nullable(Int64), ts UInt64,
        is_anomaly UInt8""",
    "ads_shop_daily": """
        stat_date Date, shop_id Int64, shop_name Nullable(String), out_orders UInt64, out_qty Int64,
        out_amount Decimal(38, 2), refund_orders UInt64, refund_amount Decimal(38, 2),
        after_sale_rate Nullable(Float64)""",
    "ads_sku_after_sale_7d": """
        stat_date Date, sku_id String, sku_name Nullable(String), out_orders_7d UInt64,
        refund_orders_7d UInt64, after_sale_rate_7d Nullable(Float64)""",
    "ads_inventory_turnover": """
        stat_date Date, sku_id String, sku_name Nullable(String), end_qty Int64, min_qty Nullable(Int64),
        out_qty_7d Int64, turnover_days Nullable(Float64), below_min Nullable(Bool)""",
}


def _initial(table: str, engine: str, layout: str) -> str:
    return f"CREATE TABLE IF NOT EXISTS {table} ({COLUMNS[table]}\n    ) ENGINE = {engine} {layout}"


def _view(name: str, body: str) -> str:
    return f"CREATE VIEW IF NOT EXISTS v_{name} AS {body}"


def _latest_lines(table: str, order: str) -> str:
    """A view body applying the latest-version rule: only the lines of each record's newest version."""
    return (
        f"SELECT * FROM {table} FINAL WHERE ({order}, ts) IN "
        f"(SELECT {order}, max(ts) FROM {table} GROUP BY {order})"
    )


INITIAL = [
    _initial("dws_sale_out", "ReplacingMergeTree(ts)",
             "PARTITION BY toYYYYMM(biz_date) ORDER BY (io_id, ioi_id)"),
    _initial("dws_after_sale", "ReplacingMergeTree(ts)",
             "PARTITION BY toYYYYMM(biz_date) ORDER BY (as_id, asi_id)"),
    _initial("dws_inventory", "ReplacingMergeTree(ts)",
             "ORDER BY sku_id"),
    _initial("dws_inventory_daily", "ReplacingMergeTree(ts)",
             "PARTITION BY toYYYYMM(stat_date) ORDER BY (stat_date, sku_id)"),
    f"""CREATE TABLE IF NOT EXISTS dim_sku (
        sku_id String, i_id Nullable(String), autoid Nullable(Int64), name Nullable(String),
        short_name Nullable(String), properties_value Nullable(String), sale_price Nullable({MONEY}),
        cost_price Nullable({MONEY}), enabled Nullable(Int8), enabled_label Nullable(String),
        c_id Nullable(Int64), category Nullable(String), brand Nullable(String),
        supplier_id Nullable(Int64), supplier_name Nullable(String), created Nullable({TIME}),
        modified Nullable({TIME}), version UInt64, found_by String, {FLAGS}
    ) ENGINE = ReplacingMergeTree(version) ORDER BY sku_id""",
    f"""CREATE TABLE IF NOT EXISTS dim_shop (
        shop_id Int64, shop_name Nullable(String), co_id Nullable(Int64), shop_site Nullable(String),
        nick Nullable(String), short_name Nullable(String), group_id Nullable(Int64),
        group_name Nullable(String), created Nullable({TIME}), {FLAGS}
    ) ENGINE = ReplacingMergeTree ORDER BY shop_id""",
    _initial("ads_shop_daily", "ReplacingMergeTree",
             "PARTITION BY toYYYYMM(stat_date) ORDER BY (stat_date, shop_id)"),
    _initial("ads_sku_after_sale_7d", "ReplacingMergeTree",
             "PARTITION BY toYYYYMM(stat_date) ORDER BY (stat_date, sku_id)"),
    _initial("ads_inventory_turnover", "ReplacingMergeTree",
             "PARTITION BY toYYYYMM(stat_date) ORDER BY (stat_date, sku_id)"),
    f"""CREATE TABLE IF NOT EXISTS dq_quarantine (
        dataset String, record_key String, reason String, raw String, first_seen {TIME},
        partition_day Nullable(Date), version Nullable(Int64)
    ) ENGINE = ReplacingMergeTree ORDER BY (dataset, record_key, reason)""",
    f"""CREATE TABLE IF NOT EXISTS ops_api_calls (
        run_id String, dataset String, partition_day Nullable(Date), window_begin Nullable({TIME}),
        window_end Nullable({TIME}), pages UInt32, rows UInt64, calls UInt32, throttled UInt32,
        retries UInt32, errors UInt32, latency_p50_ms Nullable(Float64), latency_p95_ms Nullable(Float64),
        api_count Nullable(Int64), reconciled Nullable(Bool), recorded_at {TIME}
    ) ENGINE = MergeTree PARTITION BY toYYYYMM(recorded_at) ORDER BY (dataset, recorded_at)""",
    _view("dws_sale_out", _latest_lines("dws_sale_out", "io_id")),
    _view("dws_after_sale", _latest_lines("dws_after_sale", "as_id")),
    *(
        _view(name, f"SELECT * FROM {name} FINAL")
        for name in (
            "dws_inventory",
            "dws_inventory_daily",
            "dim_sku",
            "dim_shop",
            "ads_shop_daily",
            "ads_sku_after_sale_7d",
            "ads_inventory_turnover",
            "dq_quarantine",
        )
    ),
]

# Migration 4. Every published table is a ReplacingMergeTree(publish_version, is_deleted): a refresh
# writes each record (or metric day) it changes as a new publish version, plus deletion rows for
# what no longer exists, so the work of a run follows what changed, never a whole month. A fact
# record stays in the partition of the month it was first published in (`part_month`): all its rows
# are in one part of every insert, so a reader sees either its old or its new version, never both
# or neither, even when its business day moves to another month.
# The index on publish_version finds what one refresh wrote (its checks read that back).
PUBLISHED = ("publish_version UInt64, is_deleted UInt8, "
             "INDEX publish_idx publish_version TYPE minmax GRANULARITY 1")
INTERNAL = "publish_version, is_deleted"
FACT_INDEXES = "INDEX biz_date_idx biz_date TYPE minmax GRANULARITY 1"
ENGINE = "ENGINE = ReplacingMergeTree(publish_version, is_deleted)"
BY_DAY = "PARTITION BY toYYYYMM(stat_date)"
REPUBLISHED = {
    "dws_sale_out": (f"part_month UInt32, {PUBLISHED}, {FACT_INDEXES}",
                     "PARTITION BY part_month ORDER BY (io_id, ioi_id)"),
    "dws_after_sale": (f"part_month UInt32, {PUBLISHED}, {FACT_INDEXES}",
                       "PARTITION BY part_month ORDER BY (as_id, asi_id)"),
    "dws_inventory": (PUBLISHED, "ORDER BY sku_id"),
    "dws_inventory_daily": (PUBLISHED, f"{BY_DAY} ORDER BY (stat_date, sku_id)"),
    "ads_shop_daily": (PUBLISHED, f"{BY_DAY} ORDER BY (stat_date, shop_id)"),
    "ads_sku_after_sale_7d": (PUBLISHED, f"{BY_DAY} ORDER BY (stat_date, sku_id)"),
    "ads_inventory_turnover": (PUBLISHED, f"{BY_DAY} ORDER BY (stat_date, sku_id)"),
}


def published_view(table: str, hidden: str = INTERNAL) -> str:
    # A record (or metric cell) lives in one partition, so FINAL need not merge across partitions.
    return _view(table, f"SELECT * EXCEPT ({hidden}) FROM {table} FINAL "
                        "SETTINGS do_not_merge_across_partitions_select_final = 1")


def _republished(table: str) -> list[str]:
    extra, layout = REPUBLISHED[table]
    return [
        f"DROP VIEW IF EXISTS v_{table}",
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TABLE IF NOT EXISTS {table} ({COLUMNS[table]}, {extra}) {ENGINE} {layout}",
        published_view(table, f"{INTERNAL}, part_month" if "part_month" in extra else INTERNAL),
    ]


INCREMENTAL = [
    *(statement for table in REPUBLISHED for statement in _republished(table)),
    # What the published tables hold (qeasy.warehouse.state): the newest publish version, the staging
    # change sequence each dataset is published up to (for the staging file `staging` names), the
    # days with metrics, and the days whose records changed before their metrics did.
    """CREATE TABLE IF NOT EXISTS _refresh_state (name String, value UInt64, staging String,
        publish_version UInt64) ENGINE = ReplacingMergeTree(publish_version) ORDER BY name""",
    "CREATE TABLE IF NOT EXISTS _published_days (day Date) ENGINE = ReplacingMergeTree ORDER BY day",
    "CREATE TABLE IF NOT EXISTS _pending_days (dataset String, day Date) ENGINE = MergeTree ORDER BY day",
]



def commented(columns: list[tuple[str, str, str]]) -> str:
    """Column definitions with their descriptions as ClickHouse comments (BI tools show them)."""
    return ", ".join("{} {} COMMENT '{}'".format(name, kind, text.replace("'", "''"))
                     for name, kind, text in columns)


def _marts(marts: dict) -> list[str]:
    """Each mart's table (published like every metric table) and its `v_` view."""
    return [statement for table, (columns, grain) in marts.items() for statement in (
        f"CREATE TABLE IF NOT EXISTS {table} ({commented(columns)}, {PUBLISHED}) {ENGINE} "
        f"{BY_DAY} ORDER BY ({grain})",
        published_view(table))]


def _forget(dataset: str) -> str:
    """Make the next refresh republish `dataset` whole (as if its state were lost)."""
    return (f"INSERT INTO _refresh_state SELECT 'seq:{dataset}', 0, '', max(publish_version) + 1 "
            "FROM _refresh_state")


# Migration 5, the marts of screens.md (part 1). dws_sale_out gains the order header's money and
# receiver fields (repeated on each line; a mart takes them once per order) and `province`, the
# receiver province normalised (qeasy.cleanse.provinces). Its records are republished by the next
# refresh (the state row below makes it forget how far sales_out was published).
HEADER_FIELDS = [
    ("pay_amount", f"Nullable({MONEY})", "应付 payable: the order's goods after discounts, plus freight"),
    ("paid_amount", f"Nullable({MONEY})", "实付 paid by the buyer"),
    ("free_amount", f"Nullable({MONEY})", "优惠 discounts off the list prices"),
    ("freight", f"Nullable({MONEY})", "运费 freight charged"),
    ("receiver_state", "Nullable(String)", "收货省份 receiver province as the ERP wrote it"),
    ("receiver_city", "Nullable(String)", "收货城市 receiver city"),
    ("province", "String", "省份 receiver province normalised to its official full name; 未知 when empty"),
    ("pay_date", f"Nullable({TIME})", "付款时间 payment time"),
]
SHOP = [("stat_date", "Date", "统计日期 Beijing day of the metric"),
        ("shop_id", "Int64", "店铺ID shop id"),
        ("shop_name", "Nullable(String)", "店铺名称 shop name from dim_shop")]
DAY = SHOP[0]
OUT = [("out_orders", "UInt64", "出库单数 out orders (latest status Confirmed)"),
       ("out_qty", "Int64", "出库件数 items on non-anomalous lines"),
       ("out_amount", "Decimal(38, 2)", "出库金额 sale_amount on non-anomalous lines")]
MONEY_SUM = "Decimal(38, 2)"
MARTS = {
    "ads_sales_hourly": ([DAY, ("hour", "UInt8", "小时 hour of io_date, 0-23"), *SHOP[1:], *OUT],
                         "stat_date, hour, shop_id"),
    "ads_region_daily": ([*SHOP, ("province", "String", HEADER_FIELDS[6][2]), OUT[0], OUT[2]],
                         "stat_date, shop_id, province"),
    "ads_finance_daily": ([*SHOP,
                           ("gmv", MONEY_SUM, "GMV 应付合计: pay_amount, once per out order"),
                           ("discount", MONEY_SUM, "优惠合计 discounts: free_amount, once per out order"),
                           ("paid", MONEY_SUM, "实付合计 paid: paid_amount, once per out order"),
                           ("freight", MONEY_SUM, "运费合计 freight, once per out order"),
                           ("platform_fee", MONEY_SUM, "平台佣金 paid x the shop's rate, to the fen"),
                           ("refund_amount", MONEY_SUM, "退款金额 refunds, as in ads_shop_daily"),
                           ("net_received", MONEY_SUM, "净收入 paid - platform_fee - refund_amount"),
                           ("fee_rate_known", "UInt8", "佣金率已配置 1 when the shop has a commission rate")],
                          "stat_date, shop_id"),
}
SCREEN_MARTS = [
    *(f"ALTER TABLE dws_sale_out ADD COLUMN IF NOT EXISTS {commented([field])}" for field in HEADER_FIELDS),
    "DROP VIEW IF EXISTS v_dws_sale_out",
    published_view("dws_sale_out", f"{INTERNAL}, part_month"),
    _forget("sales_out"),
    *_marts(MARTS),
]

# Migration 6, the marts of screens.md (part 2): stock by category, what to reorder, and the
# pipeline's API health by hour. End-of-day stock gains purchase_qty (in transit), the inventory
# version's; stock is republished for it.
IN_TRANSIT = ("purchase_qty", "Nullable(Int64)", "在途 purchase quantity in transit")
STOCK_MARTS = {
    "ads_inventory_overview": (
        [DAY, ("category", "String", "类目 SKU category from dim_sku; 未分类 when unknown"),
         ("skus", "UInt64", "SKU数 SKUs with stock known on the day"),
         ("end_qty", "Int64", "日末库存 end-of-day stock, summed"),
         ("below_min_skus", "UInt64", "低于安全库存SKU数 SKUs below their minimum"),
         ("stockout_skus", "UInt64", "缺货SKU数 SKUs at zero stock")],
        "stat_date, category"),
    "ads_replenishment": (
        [DAY, ("sku_id", "String", "SKU编码 SKU id"),
         ("sku_name", "Nullable(String)", "商品名称 SKU name from dim_sku"),
         ("end_qty", "Int64", "日末库存 end-of-day stock (negative counts as 0)"),
         ("min_qty", "Nullable(Int64)", "安全库存 minimum stock set in the ERP"),
         IN_TRANSIT,
         ("below_min", "Nullable(Bool)", "低于安全库存 end_qty < min_qty"),
         ("daily_out", "Float64", "日均出库 out_qty_7d / 7"),
         ("cover_days", "Nullable(Float64)", "可售天数 turnover_days of ads_inventory_turnover"),
         ("suggested_qty", "Nullable(Int64)",
          "建议补货量 max(0, ceil(daily_out x (lead_days + safety_days)) + min_qty - end_qty "
          "- purchase_qty)")],
        "stat_date, sku_id"),
}

HEALTH_COLUMNS = [
    ("stat_hour", TIME, "小时 the hour the API-health rows were recorded in"),
    ("dataset", "String", "数据集 ERP dataset"),
    ("calls", "UInt64", "调用次数 API calls"),
    ("errors", "UInt64", "错误次数 calls that failed"),
    ("throttled", "UInt64", "限流次数 calls refused by the rate limit (199/200/429)"),
    ("retries", "UInt64", "重试次数 retries"),
    ("rows", "UInt64", "行数 rows read"),
    ("latency_p95_ms", "Nullable(Float64)", "P95延迟 the highest p95 latency of the hour, ms"),
    ("error_rate", "Nullable(Float64)", "错误率 errors / calls (NULL without calls)"),
]
STOCK_MART_STATEMENTS = [
    "ALTER TABLE dws_inventory_daily ADD COLUMN IF NOT EXISTS "
    + commented([IN_TRANSIT]),
    "DROP VIEW IF EXISTS v_dws_inventory_daily",
    published_view("dws_inventory_daily"),
    _forget("inventory"),
    *_marts(STOCK_MARTS),
    f"CREATE TABLE IF NOT EXISTS ads_pipeline_health_hourly ({commented(HEALTH_COLUMNS)}, "
    f"{PUBLISHED}) {ENGINE} PARTITION BY toYYYYMM(stat_hour) ORDER BY (stat_hour, dataset)",
    published_view("ads_pipeline_health_hourly"),
]

# Migration 7, the last mart of screens.md: the hourly sales forecast (qeasy.warehouse.forecast).
AMOUNT = "Float64"
FORECAST_COLUMNS = [
    DAY, SHOP[1], ("hour", "UInt8", "小时 hour of the day, 0-23"),
    ("actual_amount", f"Nullable({AMOUNT})", "实际金额 the hour's out_amount; NULL until it is complete"),
    ("cumulative_actual", f"Nullable({AMOUNT})", "累计实际 running sum of actual_amount; NULL once an hour "
     "in it is incomplete"),
    ("forecast_open", AMOUNT, "开盘预测 p(h) x m: the forecast as the day began"),
    ("forecast_amount", AMOUNT, "预测金额 forecast_open rescaled to the actuals of the hours complete"),
    ("cumulative_forecast", AMOUNT, "累计预测 actuals of complete hours plus forecasts of the others, "
     "summed to the hour"),
]
FORECAST = [
    f"CREATE TABLE IF NOT EXISTS ads_sales_forecast ({commented(FORECAST_COLUMNS)}, {PUBLISHED}) "
    f"{ENGINE} {BY_DAY} ORDER BY (stat_date, shop_id, hour)",
    published_view("ads_sales_forecast"),
]

# Migration 9: SKU sales per shop and day, so that the dashboard's SKU rankings of some shops (the
# live screen's, and the after-sale TOP-10 of a manager of some shops) read a mart, not the lines.
SKU_SHOP_MART = {
    "ads_sku_shop_daily": (
        [DAY, SHOP[1], ("sku_id", "String", "SKU编码 SKU id"),
         ("sku_name", "Nullable(String)", "商品名称 SKU name from dim_sku"),
         ("out_orders", "UInt64", "出库单数 out orders with a non-anomalous line of the SKU"),
         ("out_qty", "Int64", "出库件数 items of the SKU on non-anomalous lines"),
         ("out_amount", "Decimal(38, 2)", "出库金额 sale_amount of the SKU on non-anomalous lines"),
         ("refund_orders", "UInt64", "退款单数 refund orders with a non-anomalous line of the SKU")],
        "stat_date, shop_id, sku_id"),
}

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "contract tables, latest-version views, quarantine and API health", INITIAL),
    (2, "ops_alerts: delivery state per (rule, subject, day) and channel", [
        f"""CREATE TABLE IF NOT EXISTS ops_alerts (
            rule String, subject String, day Date, channel String, value Float64, threshold Float64,
            message String, status String, attempts UInt32, first_seen {TIME}, sent_at Nullable({TIME})
        ) ENGINE = ReplacingMergeTree(attempts) ORDER BY (rule, subject, day, channel)""",
    ]),
    (3, "ops_alerts.alert: the alert itself (JSON), so a failed delivery is retried as it was", [
        "ALTER TABLE ops_alerts ADD COLUMN IF NOT EXISTS alert String DEFAULT ''",
    ]),
    (4, "incremental warehouse: published tables upserted by publish version with deletion rows; "
        "their contents are rebuilt from staging by the next refresh", INCREMENTAL),
    (5, "screens.md marts, part 1: order header fields on dws_sale_out; ads_sales_hourly, "
        "ads_region_daily, ads_finance_daily", SCREEN_MARTS),
    (6, "screens.md marts, part 2: purchase_qty on dws_inventory_daily; ads_inventory_overview, "
        "ads_replenishment, ads_pipeline_health_hourly", STOCK_MART_STATEMENTS),
    (7, "screens.md marts, part 3: ads_sales_forecast", FORECAST),
    (8, "ops_pushes: the daily push's delivery state per (day, channel)", [
        f"""CREATE TABLE IF NOT EXISTS ops_pushes (
            day Date, channel String, status String, attempts UInt32, first_attempt {TIME},
            sent_at Nullable({TIME}), error String, message String
        ) ENGINE = ReplacingMergeTree(attempts) ORDER BY (day, channel)""",
    ]),
    (9, "ads_sku_shop_daily: SKU sales per shop and day (the dashboard's SKU rankings)",
     [*_marts(SKU_SHOP_MART), _forget("sales_out"), _forget("after_sale")]),
    # Since made from the dataset's declaration, like every GRAIN wide table (qeasy.warehouse.declared).
    (10, "dws_unique_code_flow: the unique-code in/out flow with inout_type labels", []),
]


# The record of applied migrations (on a cluster, one replicated table every replica shares).
MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS _migrations (version UInt32, description String,
    applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY version"""
