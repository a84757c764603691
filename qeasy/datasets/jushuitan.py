"""The Jushuitan (聚水潭) datasets, one declaration each (facts of jushuitan-api.md, labels of its
status vocabularies, publishing of warehouse.md)."""

import polars as pl

from qeasy.cleanse.fields import Field
from qeasy.cleanse.fields import Kind as K
from qeasy.cleanse.provinces import normalise_province
from qeasy.cleanse.shapes import Shape
from qeasy.datasets.declaration import Dataset, Style, Wide
from qeasy.erp.endpoints import Endpoint

# A confirm_date that is present but unparseable gives a refund order no day: it is not counted.
NO_REFUND_DAY = "unparseable confirm_date"


def _fields(*specs: tuple) -> tuple[Field, ...]:
    return tuple(Field(*spec) for spec in specs)


def _province(frame: pl.DataFrame) -> pl.DataFrame:
    """The receiver province normalised for the China map."""
    # DWD rows cleansed before the shape had receiver_state have no such column yet.
    receiver = pl.col("receiver_state") if "receiver_state" in frame.columns else pl.lit(None, pl.String)
    return frame.with_columns(province=normalise_province(receiver))


def _is_refund(frame: pl.DataFrame) -> pl.DataFrame:
    """warehouse.md's refund order: latest status Confirmed and refund > 0, with a day to count on."""
    return frame.with_columns(is_refund=(
        (pl.col("status") == "Confirmed") & (pl.col("refund") > 0)
        & ~pl.col("anomaly_reason").str.contains(NO_REFUND_DAY, literal=True)
    ).fill_null(False).cast(pl.UInt8))


SALES_OUT = Dataset(
    name="sales_out",
    description="Sales-out orders (销售出库单) with item lines, by modification day.",
    endpoint=Endpoint(
        path="/open/orders/out/simple/query",
        rows_key="datas",
        page_size_default=30,
        page_size_max=50,
        primary_key=("io_id",),
        window_days=7,
        cursor_param="start_ts",
        id_params={"so_ids": 20, "o_ids": 20, "io_ids": 20},
    ),
    shape=Shape(
        header=_fields(
            ("io_id", K.ID),
            ("o_id", K.INT),
            ("so_id", K.TEXT),
            ("shop_id", K.INT),
            ("shop_name", K.TEXT),
            ("wms_co_id", K.INT),
            ("status", K.STATUS),
            ("io_date", K.TIME),
            ("created", K.TIME),
            ("modified", K.TIME),
            ("pay_amount", K.MONEY),
            ("paid_amount", K.MONEY),
            ("free_amount", K.MONEY),
            ("freight", K.MONEY),
            ("receiver_state", K.TEXT),
            ("receiver_city", K.TEXT),
            ("pay_date", K.TIME),
            ("ts", K.VERSION),
        ),
        lines="items",
        line=_fields(
            ("ioi_id", K.ID),
            ("oi_id", K.INT),
            ("sku_id", K.REF),
            ("i_id", K.TEXT),
            ("name", K.TEXT, "item_name"),
            ("properties_value", K.TEXT),
            ("qty", K.QTY),
            ("sale_price", K.MONEY),
            ("sale_amount", K.MONEY),
            ("is_gift", K.BOOL),
        ),
        biz_time=("io_date", "modified"),
    ),
    dwd="Sales-out order lines (出库单明细), typed and flagged, every version staged.",
    wide=Wide(
        table="dws_sale_out",
        description="Sales-out lines (出库明细宽表), latest version of every order, with SKU and shop names.",
        style=Style.LINES,
        derive=_province,
    ),
    labels={
        "WaitConfirm": "待出库",
        "Confirmed": "已出库",
        "Delete": "作废",
        "Cancelled": "取消",
        "OuterConfirming": "外部发货中",
    },
)

AFTER_SALE = Dataset(
    name="after_sale",
    description="After-sale orders (售后单): returns, refunds, exchanges, by modification day.",
    endpoint=Endpoint(
        path="/open/refund/single/query",
        rows_key="datas",
        page_size_default=30,
        page_size_max=50,
        primary_key=("as_id",),
        window_days=7,
        cursor_param="start_ts",
        id_params={"as_ids": 20, "so_ids": 20, "o_ids": 20},
    ),
    shape=Shape(
        header=_fields(
            ("as_id", K.ID),
            ("outer_as_id", K.TEXT),
            ("o_id", K.INT),
            ("so_id", K.TEXT),
            ("type", K.TEXT),
            ("status", K.STATUS),
            ("good_status", K.TEXT),
            ("shop_status", K.TEXT),
            ("as_date", K.TIME),
            ("created", K.TIME),
            ("modified", K.TIME),
            ("confirm_date", K.TIME),
            ("shop_id", K.INT),
            ("shop_name", K.TEXT),
            ("wms_co_id", K.INT),
            ("refund", K.MONEY),
            ("payment", K.MONEY),
            ("freight", K.MONEY),
            ("ts", K.VERSION),
        ),
        lines="items",
        line=_fields(
            ("asi_id", K.ID),
            ("sku_id", K.REF),
            ("i_id", K.TEXT),
            ("name", K.TEXT, "item_name"),
            ("qty", K.QTY),
            ("r_qty", K.INT),
            ("price", K.MONEY),
            ("amount", K.MONEY),
            ("type", K.TEXT, "item_type"),
        ),
        refined_by="good_status",
        biz_time=("confirm_date", "modified"),
    ),
    dwd="After-sale order lines (售后单明细), typed and flagged, every version staged.",
    wide=Wide(
        table="dws_after_sale",
        description="After-sale lines (售后明细宽表), latest version of every order, refunds marked.",
        style=Style.LINES,
        derive=_is_refund,
    ),
    # After-sale statuses read as refund progress the way operators say it; `STATUS/GOOD_STATUS`
    # refines a status by the goods' state.
    labels={
        "WaitConfirm": "待审核",
        "WaitConfirm/SELLER_RECEIVED": "已收货",
        "Confirmed": "已退款",
        "Cancelled": "已作废",
        "Merged": "已作废",
    },
)

INVENTORY = Dataset(
    name="inventory",
    description="Stock per SKU over all warehouses (库存), as last reported, by modification day.",
    endpoint=Endpoint(
        path="/open/inventory/query",
        rows_key="inventorys",
        page_size_default=30,
        page_size_max=100,
        primary_key=("sku_id",),
        window_days=7,
        cursor_param="ts",
        id_params={"sku_ids": 100},
    ),
    shape=Shape(
        header=_fields(
            ("sku_id", K.KEY),
            ("i_id", K.TEXT),
            ("name", K.TEXT, "item_name"),
            ("qty", K.QTY),
            ("order_lock", K.INT),
            ("pick_lock", K.INT),
            ("virtual_qty", K.INT),
            ("purchase_qty", K.INT),
            ("return_qty", K.INT),
            ("in_qty", K.INT),
            ("defective_qty", K.INT),
            ("allocate_qty", K.INT),
            ("min_qty", K.INT),
            ("max_qty", K.INT),
            ("modified", K.TIME),
            ("ts", K.VERSION),
        ),
        biz_time=("modified",),
        keeps_history=True,
    ),
    dwd="Stock per SKU (库存), typed and flagged, every version staged.",
    wide=Wide(
        table="dws_inventory",
        description="Current stock per SKU (当前库存), summed over warehouses.",
        style=Style.STOCK,
        daily="End-of-day stock per SKU (日末库存), from the versions seen so far.",
    ),
)

UNIQUE_CODE = Dataset(
    name="unique_code",
    description="Unique-code stock flow (唯一码进出流水): serial units in and out, by creation day.",
    endpoint=Endpoint(
        path="/open/webapi/wmsapi/skusn/queryinoutitemskusns",
        rows_key=None,
        page_size_default=1000,
        page_size_max=1000,
        primary_key=("sku_sn", "io_id", "inout_type"),
        window_days=30,
        window_params=("create_time_start", "create_time_end"),
        version_field="modified_time",
        time_field="create_time",
        has_next=False,
        has_counts=False,
        immutable=True,
        id_params={"io_ids": 100, "o_ids": 100},
    ),
    shape=Shape(
        header=_fields(
            ("sku_sn", K.KEY, "", "唯一码 the unit's serial code"),
            ("io_id", K.ID, "",
             "单据号 the document that moved the unit (out order; after-sale for a return)"),
            ("inout_type", K.CODE, "", "出入库类型 movement code, 1..18 in jushuitan-api.md"),
            ("o_id", K.TEXT, "", "内部订单号 ERP order id (a string in this API)"),
            ("sku_id", K.REF, "", "SKU编码 SKU id"),
            ("cost_price", K.MONEY, "", "成本价 unit cost (the API sends it as a string)"),
            ("cost_amount", K.MONEY, "", "成本金额 cost amount of the movement"),
            ("create_time", K.TIME, "", "创建时间 when the movement happened (Beijing time)"),
            ("modified_time", K.TIME, "", "修改时间 last modification (Beijing time)"),
        ),
        biz_time=("create_time",),  # staged by creation day, so the staged day when unreadable
        staged_version=True,
    ),
    dwd="Unique-code stock flow (唯一码进出流水), typed, inout_type labelled and checked, every version "
    "staged.",
    wide=Wide(
        table="dws_unique_code_flow",
        description="Unique-code in/out flow (唯一码进出流水宽表): one row per unit, document and movement "
        "type, latest version, inout_type labelled, with SKU names.",
        style=Style.GRAIN,
    ),
    labels={str(code): label for code, label in enumerate(
        ["采购入库", "采购退货", "销售出仓", "销售退货", "调拨出", "调拨入", "盘点", "差异", "结算",
         "领用出仓", "领用退仓", "期初", "其它出库", "其它进仓", "发票", "加工出仓", "加工进仓",
         "其它退货"], start=1)},
)

SKU = Dataset(
    name="sku",
    description="SKU master data (商品资料): names, prices, categories, by modification day.",
    endpoint=Endpoint(
        path="/open/sku/query",
        rows_key="datas",
        page_size_default=30,
        page_size_max=50,
        primary_key=("sku_id",),
        window_days=7,
        version_field="modified",
        id_params={"sku_ids": 20},
    ),
    shape=Shape(
        header=_fields(
            ("sku_id", K.KEY),
            ("i_id", K.TEXT),
            ("autoid", K.INT),
            ("name", K.TEXT),
            ("short_name", K.TEXT),
            ("properties_value", K.TEXT),
            ("sale_price", K.MONEY),
            ("cost_price", K.MONEY),
            ("enabled", K.INT),
            ("c_id", K.INT),
            ("category", K.TEXT),
            ("brand", K.TEXT),
            ("supplier_id", K.INT),
            ("supplier_name", K.TEXT),
            ("created", K.TIME),
            ("modified", K.TIME),
        ),
    ),
    labels={"1": "启用", "0": "备用", "-1": "禁用"},
)

SHOP = Dataset(
    name="shop",
    description="The merchant's shops (店铺) across platforms: the current list.",
    endpoint=Endpoint(
        path="/open/shops/query",
        rows_key="datas",
        page_size_default=100,
        page_size_max=100,
        primary_key=("shop_id",),
        version_field=None,
        has_counts=False,
    ),
    shape=Shape(
        header=_fields(
            ("shop_id", K.ID),
            ("shop_name", K.TEXT),
            ("co_id", K.INT),
            ("shop_site", K.TEXT),
            ("nick", K.TEXT),
            ("short_name", K.TEXT),
            ("group_id", K.INT),
            ("group_name", K.TEXT),
            ("created", K.TIME),
        ),
    ),
)

# In the order the wide tables are published and listed.
DATASETS = (SALES_OUT, AFTER_SALE, INVENTORY, UNIQUE_CODE, SKU, SHOP)
