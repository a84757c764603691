"""The 吉客云 (Jackyun) datasets: each a mapping onto the Jushuitan declaration of the same name
(`qeasy.datasets.mapping`), read through the 吉客云 gateway (facts of other-erps.md; UNCONFIRMED
field names are marked). `QEASY_ERP=jackyun` makes them the built-in datasets."""

import random
from datetime import date, timedelta

from qeasy.cleanse.fields import Field
from qeasy.cleanse.fields import Kind as K
from qeasy.cleanse.shapes import Shape
from qeasy.datasets import jushuitan as jst
from qeasy.datasets.declaration import Dataset, Style, Wide
from qeasy.datasets.mapping import mapped
from qeasy.erp.endpoints import Endpoint

PAGING = {"page_params": ("pageIndex", "pageSize"), "first_page": 0, "has_next": False,
          "has_counts": False}
WINDOW = ("startModified", "endModified")

# tradeStatus (other-erps.md, Vocabularies) as the sales-out statuses warehouse.md counts by: shipped
# (virtually, in transit, completed) is Confirmed; shipped by a consignee is OuterConfirming; merged
# into or split into other orders is void (Delete), so the goods count once; everything before
# shipping (a partial shipment included) waits.
_WAITING = ("1010", "1020", "1030", "1050", "2000", "2010", "2020", "2030", "2040", "4110", "4111", "4112",
            "4113", "4121", "4123", "4130")
TRADE_STATUS = (dict.fromkeys(_WAITING, "WaitConfirm")
                | dict.fromkeys(("3010", "6000", "9090"), "Confirmed")
                | dict.fromkeys(("4040", "4041"), "OuterConfirming")
                | dict.fromkeys(("4122", "5010"), "Cancelled") | dict.fromkeys(("5020", "5030"), "Delete"))
# The after-sale status codes (UNCONFIRMED: no source lists them; a setting of this declaration).
RETURN_STATUS = {"1": "WaitConfirm", "9": "Confirmed", "4": "Cancelled", "5": "Merged"}

TRADE = {"io_id": "tradeId", "o_id": None, "so_id": "sourceTradeNo", "shop_id": "shopId",
         "shop_name": "shopName", "wms_co_id": "warehouseId", "status": "tradeStatus",
         "io_date": "consignTime", "created": "gmtCreate", "modified": "gmtModified", "pay_amount": "payment",
         "paid_amount": "receivedTotal", "free_amount": "discountFee", "freight": "postFee",
         "receiver_state": "state", "receiver_city": "city", "pay_date": "payTime", "ts": None}
TRADE_LINE = {"ioi_id": "subTradeId", "oi_id": None, "sku_id": "barcode", "i_id": "goodsNo",
              "item_name": "goodsName", "properties_value": "specName", "qty": "sellCount",
              "sale_price": "sellPrice", "sale_amount": "sellTotal", "is_gift": "isGift"}

SALES_OUT = mapped(
    jst.SALES_OUT,
    Endpoint(path="oms.trade.fullinfoget", rows_key="trades", page_size_default=50, page_size_max=200,
             primary_key=("tradeId",), window_days=7, window_params=WINDOW, version_field="gmtModified",
             time_field="gmtModified", scroll=("scrollId", "scrollId"), **PAGING,
             # Orders older than about three months are only in the archive (UNCONFIRMED: BI's finding).
             archive=("isTableSwitch", 2, 90),
             fixed={"fields": ",".join([*filter(None, TRADE.values()), "scrollId", *(
                 f"goodsDetail.{name}" for name in filter(None, TRADE_LINE.values()))])}),
    "Sales orders (销售单, oms.trade.fullinfoget) with goods lines, by modification day.",
    TRADE, lines="goodsDetail", line=TRADE_LINE, values={"status": TRADE_STATUS},
)

AFTER_SALE = mapped(
    jst.AFTER_SALE,
    Endpoint(path="ass-business.returnchange.fullinfoget", rows_key="returnChangeList", page_size_default=50,
             page_size_max=200, primary_key=("returnChangeId",), window_days=1, window_params=WINDOW,
             version_field="gmtModified", time_field="gmtModified", **PAGING),
    "After-sale orders (售后单, ass-business.returnchange.fullinfoget), by modification day.",
    {"as_id": "returnChangeId",  # UNCONFIRMED: the sources show returnChangeNo (SH…), not this id
     "outer_as_id": "sourceAfterNo", "o_id": None, "so_id": "sourceTradeNo", "type": "returnChangeType",
     "status": "returnChangeStatus", "good_status": "goodStatus", "shop_status": "shopStatus",
     "as_date": "applyTime", "created": "gmtCreate", "modified": "gmtModified", "confirm_date": "auditTime",
     "shop_id": "shopId", "shop_name": "shopName", "wms_co_id": "warehouseId",
     "refund": "returnChangePay.returnTotal", "payment": "returnChangePay.payment",
     "freight": "returnChangePay.postFee", "ts": None},
    lines="returnChangeGoodsDetail",
    line={"asi_id": "detailId", "sku_id": "barcode", "i_id": "goodsNo", "item_name": "goodsName",
          "qty": "returnCount", "r_qty": "receiveCount", "price": "sellPrice", "amount": "sellTotal",
          "item_type": "returnType"},
    values={"status": RETURN_STATUS},
)

# A stock row is one SKU in one warehouse: the contract's stock is per SKU, over every warehouse.
STOCK_QUANTITIES = ("currentQuantity", "lockedQuantity", "useQuantity", "allocateQuantity",
                    "purchasingQuantity", "salesReturnQuantity", "defectiveQuanity")

INVENTORY = mapped(
    jst.INVENTORY,
    Endpoint(path="erp.stockquantity.get", rows_key="goodsStockQuantity", page_size_default=200,
             page_size_max=200, primary_key=("skuBarcode",), version_field="gmtModified",
             time_field="gmtModified", id_cursor=("maxQuantityId", "quantityId"), dated=True,
             part_key=("quantityId",), summed=STOCK_QUANTITIES, fixed={"isNotQueryBatchStock": "1"},
             **PAGING),
    "Stock per SKU (库存, erp.stockquantity.get): every SKU's current stock over its warehouses, as "
    "listed at each read.",
    {"sku_id": "skuBarcode", "i_id": "goodsNo", "item_name": "skuName", "qty": "currentQuantity",
     "order_lock": "lockedQuantity", "pick_lock": None, "virtual_qty": None,
     "purchase_qty": "purchasingQuantity", "return_qty": "salesReturnQuantity", "in_qty": None,
     "defective_qty": "defectiveQuanity",  # sic, as the API spells it
     "allocate_qty": "allocateQuantity", "min_qty": None, "max_qty": None,
     "modified": "gmtModified",  # UNCONFIRMED: no source lists a modification time on stock rows
     "ts": None},
)

SKU = mapped(
    jst.SKU,
    Endpoint(path="erp.storage.goodslist", rows_key="goods", page_size_default=50, page_size_max=200,
             primary_key=("skuBarcode",), window_days=30,
             window_params=("startDateModifiedSku", "endDateModifiedSku"), version_field="skuGmtModified",
             time_field="skuGmtModified", id_cursor=("maxSkuId", "skuId"), fixed={"isQueryDelete": 1},
             **PAGING),
    "Goods and SKUs (货品, erp.storage.goodslist), by modification day.",
    {"sku_id": "skuBarcode", "i_id": "goodsNo", "autoid": "skuId", "name": "goodsName", "short_name": None,
     "properties_value": "skuName", "sale_price": None, "cost_price": "retailPrice",  # 固定成本价
     "enabled": "skuIsBlockup", "c_id": None, "category": "cateName", "brand": "brandName",
     "supplier_id": None, "supplier_name": None, "created": "skuGmtCreate", "modified": "skuGmtModified"},
    values={"enabled": {"0": "1", "1": "-1"}},  # blocked or not: 启用 or 禁用 (吉客云 has no 备用)
)

SHOP = mapped(
    jst.SHOP,
    Endpoint(path="erp.sales.get", rows_key="salesChannelInfo", page_size_default=50, page_size_max=200,
             primary_key=("channelId",), version_field=None, **PAGING),
    "Sales channels (销售渠道, erp.sales.get): the merchant's shops, the current list.",
    {"shop_id": "channelId", "shop_name": "channelName", "co_id": "companyCode",
     "shop_site": "onlinePlatTypeName", "nick": "platShopName", "short_name": None,
     "group_id": "channelDepartId", "group_name": "cateName", "created": "gmtCreate"},
)

ALLOCATIONS_PER_DAY = 24  # the sandbox's: with the completions of the day before, more than a page


def _allocations(day: date, seed: int) -> list[dict]:
    """The sandbox's allocation orders created on `day`, as erp.allocate.get writes them: each made
    pending (待审) when created, and a later version completing it (已完成) the next morning."""
    made = []
    for n in range(ALLOCATIONS_PER_DAY):
        draw = random.Random(f"{seed}:allocation:{day}:{n}")
        created = f"{day} {n:02d}:{draw.randrange(60):02d}:00"
        out_wh, in_wh = draw.sample(range(1, 4), 2)
        skus, price = draw.randint(1, 5), round(draw.uniform(20, 400), 2)
        pending = {"allocateId": day.toordinal() * 1000 + n, "allocateNo": f"DB{day:%Y%m%d}{n:03d}",
                   "outWarehouseCode": f"WH{out_wh:02d}", "outWarehouseName": f"仓{out_wh}",
                   "intWarehouseCode": f"WH{in_wh:02d}", "intWarehouseName": f"仓{in_wh}",  # sic
                   "status": 1, "inStatus": 1, "outStatus": 1, "gmtCreate": created, "gmtModified": created,
                   "auditDate": None, "skuCount": skus * 10, "totalAmount": round(skus * 10 * price, 2),
                   "sourceNo": f"REQ{n:04d}", "stockAllocateDetailViews": [
                       {"skuBarcode": f"SK{draw.randrange(2000):06d}", "skuCount": 10, "skuPrice": price}
                       for _ in range(skus)]}
        done = f"{day + timedelta(days=1)} 0{n % 10}:15:00"
        made += [pending, pending | {"status": 20, "inStatus": 3, "outStatus": 3, "gmtModified": done,
                                     "auditDate": created}]
    return made


ALLOCATION = Dataset(
    name="allocation",
    # The API selects on creation time (a modified-time filter is UNCONFIRMED): a day's versions are
    # read from the windows of the week before it, allocations being settled within a week.
    description="Allocation orders (调拨单, erp.allocate.get) between warehouses, by modification day.",
    endpoint=Endpoint(path="erp.allocate.get", rows_key="stockAllocate", page_size_default=50,
                      page_size_max=50, primary_key=("allocateId",), window_days=1,  # pulled day by day
                      window_params=("startCreateTime", "endCreateTime"), time_field="gmtCreate",
                      version_field="gmtModified", revisit_days=7, **PAGING),
    shape=Shape(
        header=(
            Field("allocateId", K.ID, "allocate_id", "调拨单ID allocation order id"),
            Field("allocateNo", K.TEXT, "allocate_no", "调拨单号 allocation order number"),
            Field("outWarehouseCode", K.TEXT, "out_warehouse_code", "调出仓编码 warehouse moved from"),
            Field("outWarehouseName", K.TEXT, "out_warehouse_name", "调出仓 warehouse moved from"),
            Field("intWarehouseCode", K.TEXT, "in_warehouse_code", "调入仓编码 warehouse moved to"),
            Field("intWarehouseName", K.TEXT, "in_warehouse_name", "调入仓 warehouse moved to"),
            Field("status", K.STATUS, "status", "状态 0 草稿 1 待审 2 已审 3 已关闭 10 审中 20 已完成"),
            Field("inStatus", K.INT, "in_status", "入库状态 1 待 2 部分 3 完成"),
            Field("outStatus", K.INT, "out_status", "出库状态 1 待 2 部分 3 完成"),
            Field("skuCount", K.QTY, "sku_count", "数量 units allocated"),
            Field("totalAmount", K.MONEY, "total_amount", "金额 amount allocated"),
            Field("sourceNo", K.TEXT, "source_no", "来源单号 source document"),
            Field("gmtCreate", K.TIME, "created", "创建时间 created (Beijing time)"),
            Field("gmtModified", K.TIME, "modified", "修改时间 last modified (Beijing time)"),
            Field("auditDate", K.TIME, "audit_date", "审核时间 audited (Beijing time)"),
        ),
        biz_time=("created",),  # the API's window is the creation time
        staged_version=True,
    ),
    dwd="Allocation orders (调拨单), typed and flagged, every version staged.",
    wide=Wide(table="dws_allocation", style=Style.GRAIN,
              description="Allocation orders (调拨单宽表): the latest version of each, status labelled."),
    # BI's reading of the statuses (server/sql/allocate.sql), UNCONFIRMED officially.
    labels={"0": "草稿", "1": "待审", "2": "已审", "3": "已关闭", "10": "审中", "20": "已完成"},
    sandbox=_allocations,
)

# In the order the wide tables are published and listed.
DATASETS = (SALES_OUT, AFTER_SALE, INVENTORY, SKU, SHOP, ALLOCATION)
