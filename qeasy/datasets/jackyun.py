"""The 吉客云 (Jackyun) datasets: each a mapping onto the Jushuitan declaration of the same name
(`qeasy.datasets.mapping`), read through the 吉客云 gateway (facts of other-erps.md; UNCONFIRMED
field names are marked). `QEASY_ERP=jackyun` makes them the built-in datasets."""

from qeasy.datasets import jushuitan as jst
from qeasy.datasets.mapping import mapped
from qeasy.erp.endpoints import Endpoint

PAGING = {"page_params": ("pageIndex", "pageSize"), "first_page": 0, "has_next": False,
          "has_counts": False}
WINDOW = ("startModified", "endModified")

# tradeStatus (other-erps.md, Vocabularies) as the sales-out statuses warehouse.md counts by.
TRADE_STATUS = {"4110": "WaitConfirm", "9090": "Confirmed", "5020": "Delete", "5010": "Cancelled",
                "4040": "OuterConfirming"}
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

INVENTORY = mapped(
    jst.INVENTORY,
    Endpoint(path="erp.stockquantity.get", rows_key="goodsStockQuantity", page_size_default=200,
             page_size_max=200, primary_key=("skuBarcode",), version_field="gmtModified",
             time_field="gmtModified", id_cursor=("maxQuantityId", "quantityId"), dated=True,
             fixed={"isNotQueryBatchStock": "1"}, **PAGING),
    "Stock per SKU (库存, erp.stockquantity.get): every SKU's current stock, as listed at each read.",
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
             time_field="skuGmtModified", id_cursor=("maxSkuId", "skuId"), **PAGING),
    "Goods and SKUs (货品, erp.storage.goodslist), by modification day.",
    {"sku_id": "skuBarcode", "i_id": "goodsNo", "autoid": "skuId", "name": "goodsName", "short_name": None,
     "properties_value": "skuName", "sale_price": "retailPrice", "cost_price": "costPrice",
     "enabled": "skuStatus", "c_id": None, "category": "cateName", "brand": "brandName",
     "supplier_id": None, "supplier_name": None, "created": "skuGmtCreate", "modified": "skuGmtModified"},
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

DATASETS = (SALES_OUT, AFTER_SALE, INVENTORY, SKU, SHOP)
