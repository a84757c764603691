"""Per-method query and paging rules of the Jackyun methods the sandbox serves.

Windows select on the canonical `modified` as the Jushuitan side does (`Merchant.window`: bounds
inclusive, keys sorted by (modified to the second, key)). Offset-paged windows shift when a served
row is modified (page drift); the scrollId of oms.trade.fullinfoget is a position in that order,
so a row modified during the walk moves behind it and is served again instead of being lost.
"""

import base64
import binascii
import bisect
import json
import random
from collections.abc import Callable
from datetime import date
from functools import partial

import numpy as np

from qeasy.datasets import ERPS
from qeasy.erp.endpoints import Endpoint
from qeasy.erp.times import parse_bj
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.declared import DeclaredSource
from qeasy.sandbox.faults import Faults
from qeasy.sandbox.jackyun import wire
from qeasy.sandbox.jackyun.errors import NO_FIELDS, JackyunError, bad_param
from qeasy.sandbox.merchant import Merchant
from qeasy.sandbox.randomness import unit

TRADES = "oms.trade.fullinfoget"
RETURN_CHANGES = "ass-business.returnchange.fullinfoget"
STOCK = "erp.stockquantity.get"
GOODS = "erp.storage.goodslist"
CHANNELS = "erp.sales.get"
WAREHOUSES = "erp.warehouse.get"
TRADE_WINDOW_DAYS = 7  # AC-doc: each time pair at most 7 days
GOODS_WINDOW_DAYS = 30  # AC: 30 days works
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 50, 200
END_OF_TIME = 2**62  # "every version up to now" windows: a constant end lets the merchant cache them
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DAY_MS = 86_400_000


class Methods:
    """Answers the business part of one call: `answer(method, biz, now) -> (result.data, rows)`."""

    def __init__(self, config: SandboxConfig, merchant: Merchant, faults: Faults) -> None:
        self.config = config
        self.merchant = merchant
        self.faults = faults
        self._handlers: dict[str, Callable[[dict, int], tuple[object, int]]] = {
            TRADES: self.trades, RETURN_CHANGES: self.return_changes, STOCK: self.stock,
            GOODS: self.goods, CHANNELS: self.channels, WAREHOUSES: self.warehouses,
        }
        # Methods of no simulated dataset, served from their declarations' rows (allocations).
        epoch = date.fromisoformat(config.epoch)
        for dataset in ERPS["jackyun"]:
            if dataset.sandbox is not None:
                source = DeclaredSource(dataset, config.seed, epoch)
                self._handlers[dataset.endpoint.path] = partial(self.declared, dataset.endpoint, source)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def answer(self, method: str, biz: dict, now: int) -> tuple[object, int]:
        return self._handlers[method](biz, now)

    # ---- methods -------------------------------------------------------------------------
    def trades(self, biz: dict, now: int) -> tuple[object, int]:
        """oms.trade.fullinfoget: a modified window walked by scrollId only (pageIndex is ignored)."""
        if biz.get("fields") in (None, "", []):
            raise JackyunError(NO_FIELDS, "查询字段不能为空 (fields is required)")
        begin, end = _window(biz, "startModified", "endModified", TRADE_WINDOW_DAYS)
        size = _page_size(biz)
        keys = self.merchant.window("sales_out", begin, end, now)
        token = biz.get("scrollId")
        last_ms, last_key, start = -1000, -1, 0  # the first page: a position before every row
        if token not in (None, ""):
            token_begin, token_end, last_ms, last_key = _decode_scroll(token)
            if (token_begin, token_end) != (begin, end):
                raise bad_param("scrollId belongs to another startModified/endModified window")
            # The rows of the window as seen now strictly after the position: a row modified
            # since it was served sorts behind the position again.
            start = bisect.bisect_right(keys, (last_ms // 1000, last_key),
                                        key=lambda k: self._order("sales_out", int(k), now))
        page = [int(k) for k in keys[start:start + size]]
        rows = [wire.trade(self.merchant.render("sales_out", k, now)) for k in page]
        if page:
            last_ms, last_key = self.merchant.modified("sales_out", page[-1], now), page[-1]
        if start + len(page) < len(keys):
            self._drift(TRADES, "sales_out", biz, keys[:start + len(page)], now)
        return {"trades": rows, "scrollId": _encode_scroll(begin, end, last_ms, last_key)}, len(rows)

    def return_changes(self, biz: dict, now: int) -> tuple[object, int]:
        """ass-business.returnchange.fullinfoget: a modified window paged by offset."""
        begin, end = _window(biz, "startModified", "endModified", self.config.jackyun_after_sale_window_days)
        index, size = _page(biz)
        keys = self.merchant.window("after_sale", begin, end, now)
        rows = self._offset_page(RETURN_CHANGES, "after_sale", keys, index, size, biz, now)
        return {"returnChangeList": [wire.return_change(row) for row in rows]}, len(rows)

    def stock(self, biz: dict, now: int) -> tuple[object, int]:
        """erp.stockquantity.get: every SKU's current stock by maxQuantityId; data is a JSON string."""
        index, size = _page(biz)
        if index != 0:
            raise bad_param("pageIndex must be 0: page on with maxQuantityId")
        after = _int(biz, "maxQuantityId", 0)
        if after < 0:
            raise bad_param("maxQuantityId must be 0 or more")
        keys = np.sort(self.merchant.window("inventory", 0, END_OF_TIME, now))
        # One row per SKU and warehouse holding it, in quantityId order.
        places = [(int(k), p) for k in keys for p in range(wire.stock_places(int(k)))]
        start = bisect.bisect_right(places, after, key=lambda kp: kp[0] * len(wire.WAREHOUSES) + kp[1] + 1)
        page = places[start:start + size]
        # Rows come unsorted (other-erps.md): only the page's maximum quantityId is the cursor.
        random.Random(f"{self.config.seed}:stock:{after}:{size}").shuffle(page)
        rows = [wire.stock(k, p, self.merchant.render("inventory", k, now)) for k, p in page]
        text = json.dumps({"goodsStockQuantity": rows}, ensure_ascii=False, separators=(",", ":"))
        return text, len(rows)

    def goods(self, biz: dict, now: int) -> tuple[object, int]:
        """erp.storage.goodslist: by maxSkuId (skuId order), else a modified window by offset."""
        index, size = _page(biz)
        window = _optional_window(biz, "startDateModifiedSku", "endDateModifiedSku", GOODS_WINDOW_DAYS)
        if biz.get("maxSkuId") not in (None, ""):
            if index != 0:
                raise bad_param("pageIndex must be 0 with maxSkuId: page on with the last skuId")
            after = _int(biz, "maxSkuId", 0)
            if after < 0:
                raise bad_param("maxSkuId must be 0 or more")
            # The whole catalogue has no window to hide SKUs from: hidden ones are walked too.
            keys = (np.sort(self.merchant.window("sku", *window, now)) if window
                    else self.merchant.catalogue(now))
            start = int(np.searchsorted(keys, after))  # skuId = key + 1 > after
            page = [int(k) for k in keys[start:start + size]]
            rows = [self.merchant.render("sku", k, now) for k in page]
        elif window is None:
            raise bad_param("startDateModifiedSku/endDateModifiedSku or maxSkuId is required")
        else:
            keys = self.merchant.window("sku", *window, now)
            rows = self._offset_page(GOODS, "sku", keys, index, size, biz, now)
        return {"goods": [wire.goods(_sku_index(row), row) for row in rows]}, len(rows)

    def channels(self, biz: dict, now: int) -> tuple[object, int]:
        """erp.sales.get: every shop, by offset."""
        index, size = _page(biz)
        keys = self.merchant.shops()
        start = min(index * size, len(keys))
        rows = [wire.channel(self.merchant.render("shop", int(k), now)) for k in keys[start:start + size]]
        return {"salesChannelInfo": rows}, len(rows)

    def declared(self, endpoint: Endpoint, source: DeclaredSource, biz: dict, now: int) -> tuple[object, int]:
        """A declared dataset's window (its declaration's parameters and limits), paged by offset."""
        begin, end = _window(biz, *endpoint.window_params, endpoint.window_days)
        index, size = _page(biz, endpoint.page_size_default, endpoint.page_size_max)
        records = source.window(begin, end, now)
        rows = records[index * size:(index + 1) * size]
        return {endpoint.rows_key: rows}, len(rows)

    def warehouses(self, biz: dict, now: int) -> tuple[object, int]:
        """erp.warehouse.get: the merchant's warehouses, by offset."""
        index, size = _page(biz)
        start = min(index * size, len(wire.WAREHOUSES))
        rows = [wire.warehouse(n) for n in range(len(wire.WAREHOUSES))[start:start + size]]
        return {"warehouseInfo": rows}, len(rows)

    # ---- paging helpers ------------------------------------------------------------------
    def _offset_page(self, method: str, dataset: str, keys: np.ndarray, index: int, size: int,
                     biz: dict, now: int) -> list[dict]:
        """Canonical rows of page `index` (0 first) of a window, with its dirt and drift."""
        start = min(index * size, len(keys))
        page = [int(k) for k in keys[start:start + size]]
        rows = [self.merchant.render(dataset, k, now) for k in page]
        if 0 < start <= len(keys) and self._dirty_page(method, biz, index):
            rows.insert(0, self.merchant.render(dataset, int(keys[start - 1]), now))
        if start + len(page) < len(keys):
            self._drift(method, dataset, biz, keys[:start + len(page)], now)
        return rows

    def _dirty_page(self, method: str, biz: dict, index: int) -> bool:
        """Whether this page repeats the previous page's last row (fixed by the request, not luck)."""
        rate = self.config.dirty.duplicate_rows
        return rate > 0 and unit(self.config.seed, "jackyun-dup", method, _canonical(biz), index) < rate

    def _drift(self, method: str, dataset: str, biz: dict, served: np.ndarray, now: int) -> None:
        """Maybe modify one already served row, as an ERP user editing it mid-walk would."""
        if not self.merchant.can_touch(dataset) or not len(served):
            return
        pick = self.faults.drift("jackyun", method, _canonical(biz))
        if pick is not None:
            self.merchant.touch(dataset, int(served[int(pick * len(served))]), now)

    def _order(self, dataset: str, key: int, now: int) -> tuple[int, int]:
        """A key's place in `Merchant.window`'s order: (modified second, key)."""
        modified = self.merchant.modified(dataset, key, now)
        return (modified if modified is not None else -1000) // 1000, key


# ---- parameters ----------------------------------------------------------------------------
def _int(biz: dict, name: str, default: int) -> int:
    """An integer parameter: a JSON integer or a string of ASCII digits, within int64."""
    value = biz.get(name, default)
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.isascii() and text.removeprefix("-").isdigit():
        text = int(text)
    if isinstance(text, bool) or not isinstance(text, int) or not INT64_MIN <= text <= INT64_MAX:
        raise bad_param(f"{name} must be an integer")
    return text


def _page_size(biz: dict, default: int = PAGE_SIZE_DEFAULT, largest: int = PAGE_SIZE_MAX) -> int:
    size = _int(biz, "pageSize", default)
    if not 1 <= size <= largest:
        raise bad_param(f"pageSize must be 1..{largest}")
    return size


def _page(biz: dict, default: int = PAGE_SIZE_DEFAULT, largest: int = PAGE_SIZE_MAX) -> tuple[int, int]:
    """(pageIndex, pageSize): pageIndex 0 is the first page."""
    index = _int(biz, "pageIndex", 0)
    if index < 0:
        raise bad_param("pageIndex must be 0 or more (0 is the first page)")
    return index, _page_size(biz, default, largest)


def _window(biz: dict, begin_name: str, end_name: str, days: int) -> tuple[int, int]:
    """A required time pair (epoch ms, bounds inclusive), forward and at most `days` long."""
    if biz.get(begin_name) in (None, "") or biz.get(end_name) in (None, ""):
        raise bad_param(f"{begin_name}/{end_name} are required")
    bounds = []
    for name in (begin_name, end_name):
        try:
            bounds.append(parse_bj(str(biz[name])))
        except ValueError as exc:
            raise bad_param(f"{name} must be yyyy-MM-dd HH:mm:ss") from exc
    begin, end = bounds
    if end < begin:
        raise bad_param(f"{end_name} is before {begin_name}")
    if end - begin > days * DAY_MS:
        raise bad_param(f"{begin_name}..{end_name} spans more than {days} days")
    return begin, end


def _optional_window(biz: dict, begin_name: str, end_name: str, days: int) -> tuple[int, int] | None:
    if biz.get(begin_name) in (None, "") and biz.get(end_name) in (None, ""):
        return None
    return _window(biz, begin_name, end_name, days)


def _encode_scroll(begin: int, end: int, last_ms: int, last_key: int) -> str:
    """An opaque, stateless scrollId: the window and the last served (modified ms, key)."""
    raw = json.dumps([begin, end, last_ms, last_key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_scroll(token: object) -> tuple[int, int, int, int]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(str(token).encode("ascii")))
    except (ValueError, binascii.Error) as exc:  # UnicodeError and JSONDecodeError are ValueErrors
        raise bad_param("scrollId is not one this API issued") from exc
    if not (isinstance(parts, list) and len(parts) == 4
            and all(isinstance(p, int) and not isinstance(p, bool) for p in parts)):
        raise bad_param("scrollId is not one this API issued")
    begin, end, last_ms, last_key = parts
    return begin, end, last_ms, last_key


def _canonical(biz: dict) -> str:
    return json.dumps(biz, sort_keys=True, ensure_ascii=False, default=str)


def _sku_index(row: dict) -> int:
    """The SKU index of a canonical sku row (`autoid` is index + 1)."""
    return int(row["autoid"]) - 1
