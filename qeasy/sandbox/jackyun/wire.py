"""Canonical merchant rows (Jushuitan-shaped, `Merchant.render`) as Jackyun JSON, per method.

Every value is copied through as rendered (numbers, numeric strings, times with or without ms,
None, unparseable values): the sandbox's dirty data must survive the translation. Only the
mappings below change a value.

Field table (Jackyun field <- canonical field):

oms.trade.fullinfoget <- sales_out
    tradeId <- io_id; tradeNo <- "JY"+o_id; sourceTradeNo <- so_id; tradeStatus <- status as a code
    (WaitConfirm 4110, Confirmed 9090, Delete 5020, Cancelled 5010, OuterConfirming 4040, other 1999);
    tradeType <- 1 (零售); shopId <- shop_id; shopName <- shop_name; warehouseId <- wms_co_id;
    consignTime <- io_date; gmtCreate <- created; gmtModified <- modified; payTime <- pay_date;
    payment <- pay_amount; receivedTotal <- paid_amount; discountFee <- free_amount; postFee <- freight;
    state <- receiver_state; city <- receiver_city;
    goodsDetail[] <- items: subTradeId <- ioi_id; goodsNo <- i_id; barcode <- sku_id; goodsName <- name;
    specName <- properties_value; sellCount <- qty; sellPrice <- sale_price; sellTotal <- sale_amount;
    isGift <- is_gift as 1/0 (None stays None)
ass-business.returnchange.fullinfoget <- after_sale
    returnChangeId <- as_id; returnChangeNo <- "SH"+as_id; sourceAfterNo <- outer_as_id;
    tradeNo <- "JY"+o_id; sourceTradeNo <- so_id; returnChangeType <- type; returnChangeStatus <- status
    as a code (WaitConfirm "1", Confirmed "9", Cancelled "4", Merged "5", other "99");
    goodStatus <- good_status; shopStatus <- shop_status; applyTime <- as_date; gmtCreate <- created;
    gmtModified <- modified; auditTime <- confirm_date; shopId <- shop_id; shopName <- shop_name;
    warehouseId <- wms_co_id; returnChangePay <- {returnTotal <- refund, payment <- payment,
    postFee <- freight};
    returnChangeGoodsDetail[] <- items: detailId <- asi_id; barcode <- sku_id; goodsNo <- i_id;
    goodsName <- name; returnCount <- qty; receiveCount <- r_qty; sellPrice <- price;
    sellTotal <- amount; returnType <- type
erp.stockquantity.get <- inventory (every SKU's current row, one per warehouse holding the SKU)
    quantityId <- SKU index * 3 + place + 1; skuBarcode <- sku_id; goodsNo <- i_id; skuName <- name;
    warehouseId/Code/Name <- one of the merchant's warehouses; the quantities are the canonical row
    (summed over warehouses) split between the one or two warehouses holding the SKU, a value that
    is not a number whole in the first; currentQuantity <- qty; lockedQuantity <- order_lock;
    useQuantity <- qty - order_lock when both are numbers, else None; allocateQuantity <- allocate_qty;
    purchasingQuantity <- purchase_qty; salesReturnQuantity <- return_qty;
    defectiveQuanity (sic) <- defective_qty; gmtModified <- modified (UNCONFIRMED: no source lists a
    modification time on stock rows)
erp.storage.goodslist <- sku
    skuId <- SKU index + 1; goodsId <- the number in i_id + 1 (stable per i_id); goodsNo <- i_id;
    skuBarcode <- sku_id; goodsName <- name; skuName <- properties_value; retailPrice (固定成本价, the
    fixed cost price) <- cost_price; skuIsBlockup <- 1 if enabled == -1 (禁用) else 0 (no source names
    a sale price field or a 备用 state: they are not served); cateName <- category; brandName <- brand;
    skuGmtCreate <- created and
    skuGmtModified <- modified as ms epoch integers (a value that does not parse passes through)
erp.sales.get <- shop
    channelId <- shop_id; channelCode <- "C"+shop_id; channelName <- shop_name; channelType <- 1
    (直营网店); onlinePlatTypeName <- shop_site; platShopName <- nick; cateName <- group_name;
    channelDepartId <- group_id; companyCode <- co_id; gmtCreate <- created
erp.warehouse.get <- the merchant's warehouses
    warehouseId <- each wms_co_id orders use (CO_ID + 0..2); warehouseCode "WH01".."WH03"; warehouseName
"""

from qeasy.erp.times import parse_bj
from qeasy.sandbox.catalog import CO_ID

TRADE_STATUS = {"WaitConfirm": 4110, "Confirmed": 9090, "Delete": 5020, "Cancelled": 5010,
                "OuterConfirming": 4040}
OTHER_TRADE_STATUS = 1999
RETURN_STATUS = {"WaitConfirm": "1", "Confirmed": "9", "Cancelled": "4", "Merged": "5"}
OTHER_RETURN_STATUS = "99"
DIRECT_SHOP = 1  # channelType 1 直营网店
RETAIL = 1  # tradeType 1 零售
# The merchant's warehouses: orders draw wms_co_id = CO_ID + 0..2 (orders.py, records.py).
WAREHOUSES = [(CO_ID + n, f"WH{n + 1:02d}", name) for n, name in enumerate(("主仓", "华东仓", "华南仓"))]


def trade(row: dict) -> dict:
    """oms.trade.fullinfoget row of a sales_out row."""
    return {
        "tradeId": row["io_id"],
        "tradeNo": f"JY{row['o_id']}",
        "sourceTradeNo": row["so_id"],
        "tradeStatus": TRADE_STATUS.get(row["status"], OTHER_TRADE_STATUS),
        "tradeType": RETAIL,
        "shopId": row["shop_id"],
        "shopName": row["shop_name"],
        "warehouseId": row["wms_co_id"],
        "consignTime": row["io_date"],
        "gmtCreate": row["created"],
        "gmtModified": row["modified"],
        "payTime": row["pay_date"],
        "payment": row["pay_amount"],
        "receivedTotal": row["paid_amount"],
        "discountFee": row["free_amount"],
        "postFee": row["freight"],
        "state": row["receiver_state"],
        "city": row["receiver_city"],
        "goodsDetail": [{
            "subTradeId": item["ioi_id"],
            "goodsNo": item["i_id"],
            "barcode": item["sku_id"],
            "goodsName": item["name"],
            "specName": item["properties_value"],
            "sellCount": item["qty"],
            "sellPrice": item["sale_price"],
            "sellTotal": item["sale_amount"],
            "isGift": None if item["is_gift"] is None else int(bool(item["is_gift"])),
        } for item in row["items"]],
    }


def return_change(row: dict) -> dict:
    """ass-business.returnchange.fullinfoget row of an after_sale row."""
    return {
        "returnChangeId": row["as_id"],
        "returnChangeNo": f"SH{row['as_id']}",
        "sourceAfterNo": row["outer_as_id"],
        "tradeNo": f"JY{row['o_id']}",
        "sourceTradeNo": row["so_id"],
        "returnChangeType": row["type"],
        "returnChangeStatus": RETURN_STATUS.get(row["status"], OTHER_RETURN_STATUS),
        "goodStatus": row["good_status"],
        "shopStatus": row["shop_status"],
        "applyTime": row["as_date"],
        "gmtCreate": row["created"],
        "gmtModified": row["modified"],
        "auditTime": row["confirm_date"],
        "shopId": row["shop_id"],
        "shopName": row["shop_name"],
        "warehouseId": row["wms_co_id"],
        "returnChangePay": {"returnTotal": row["refund"], "payment": row["payment"],
                            "postFee": row["freight"]},
        "returnChangeGoodsDetail": [{
            "detailId": item["asi_id"],
            "barcode": item["sku_id"],
            "goodsNo": item["i_id"],
            "goodsName": item["name"],
            "returnCount": item["qty"],
            "receiveCount": item["r_qty"],
            "sellPrice": item["price"],
            "sellTotal": item["amount"],
            "returnType": item["type"],
        } for item in row["items"]],
    }


STOCK_FIELDS = {"currentQuantity": "qty", "lockedQuantity": "order_lock", "allocateQuantity": "allocate_qty",
                "purchasingQuantity": "purchase_qty", "salesReturnQuantity": "return_qty",
                "defectiveQuanity": "defective_qty"}  # sic: the wire name is misspelt


def stock_places(index: int) -> int:
    """How many of the merchant's warehouses hold SKU `index` (one or two)."""
    return 1 + index % 2


def stock(index: int, place: int, row: dict) -> dict:
    """erp.stockquantity.get row of SKU `index` in its `place`-th warehouse: the canonical row (summed
    over warehouses) split between them; a value that is not a number stays whole in the first."""
    places = stock_places(index)
    parts = {wire: _share(row[name], place, places) for wire, name in STOCK_FIELDS.items()}
    qty, lock = parts["currentQuantity"], parts["lockedQuantity"]
    warehouse_id, code, name = WAREHOUSES[(index + place) % len(WAREHOUSES)]
    return {
        "quantityId": index * len(WAREHOUSES) + place + 1,
        "skuBarcode": row["sku_id"],
        "goodsNo": row["i_id"],
        "skuName": row["name"],
        "warehouseId": warehouse_id, "warehouseCode": code, "warehouseName": name,
        **parts,
        "useQuantity": qty - lock if _is_number(qty) and _is_number(lock) else None,
        "gmtModified": row["modified"],
    }


def _share(value: object, place: int, places: int) -> object:
    """Warehouse `place`'s share of a quantity: integer parts that add up to it."""
    if places == 1:
        return value
    try:
        whole = int(str(value))
    except ValueError:
        return value if place == 0 else None
    first = whole - whole // places * (places - 1)
    return first if place == 0 else whole // places


def goods(index: int, row: dict) -> dict:
    """erp.storage.goodslist row of SKU `index`'s sku row."""
    return {
        "skuId": index + 1,
        "goodsId": int(row["i_id"][1:]) + 1 if _is_i_id(row["i_id"]) else row["i_id"],
        "goodsNo": row["i_id"],
        "skuBarcode": row["sku_id"],
        "goodsName": row["name"],
        "skuName": row["properties_value"],
        "retailPrice": row["cost_price"],  # 固定成本价 (other-erps.md)
        "skuIsBlockup": 1 if row["enabled"] == -1 else 0,
        "cateName": row["category"],
        "brandName": row["brand"],
        "skuGmtCreate": epoch_ms(row["created"]),
        "skuGmtModified": epoch_ms(row["modified"]),
    }


def channel(row: dict) -> dict:
    """erp.sales.get row of a shop row."""
    return {
        "channelId": row["shop_id"],
        "channelCode": f"C{row['shop_id']}",
        "channelName": row["shop_name"],
        "channelType": DIRECT_SHOP,
        "onlinePlatTypeName": row["shop_site"],
        "platShopName": row["nick"],
        "cateName": row["group_name"],
        "channelDepartId": row["group_id"],
        "companyCode": row["co_id"],
        "gmtCreate": row["created"],
    }


def warehouse(n: int) -> dict:
    """erp.warehouse.get row of the merchant's warehouse `n`."""
    warehouse_id, code, name = WAREHOUSES[n]
    return {"warehouseId": warehouse_id, "warehouseCode": code, "warehouseName": name}


def epoch_ms(value: object) -> object:
    """A Beijing time string as ms epoch (ERP goods times are ms); anything else passes through."""
    if not isinstance(value, str):
        return value
    try:
        return parse_bj(value)
    except ValueError:
        return value  # dirt stays visible to the client instead of becoming a plausible number


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_i_id(value: object) -> bool:
    return isinstance(value, str) and value[:1] == "I" and value[1:].isascii() and value[1:].isdigit()
