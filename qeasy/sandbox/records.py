"""Rows as the open API writes them, dirty data included, for one record version."""

from functools import lru_cache

from qeasy.erp.times import format_bj
from qeasy.sandbox.catalog import CATEGORIES, CO_ID, SHOP_BASE, SHOPS, Catalog
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.orders import (
    AS_CANCELLED,
    AS_CONFIRMED,
    AS_TYPES,
    CONFIRMED,
    OUT_STATUS,
    REFUND_TYPES,
    RETURN_TYPES,
    OrderDay,
)
from qeasy.sandbox.randomness import unit
from qeasy.sandbox.regions import PROVINCES, short_form

UNKNOWN_OUT_STATUS = "Splitting"  # not in the documented vocabulary: dirty data
UNKNOWN_AS_STATUS = "Processing"


@lru_cache(maxsize=65_536)
def _draw(seed: int, tag: str, key: int) -> float:
    """unit() memoised: one row asks the same question of its key many times."""
    return unit(seed, tag, key)


def version_ts(modified: int, key: int) -> int:
    """The row-version `ts`: increases with every modification; the key breaks ties."""
    return modified * 1000 + key % 1000


class Renderer:
    """Turns a record version into the API's JSON row, applying the seeded dirty-data rates."""

    def __init__(self, config: SandboxConfig, catalog: Catalog) -> None:
        self.seed = config.seed
        self.dirty = config.dirty
        self.catalog = catalog

    def _is(self, rate: float, tag: str, key: int) -> bool:
        return rate > 0 and _draw(self.seed, tag, key) < rate

    def _time(self, ms: int | None, key: int) -> str | None:
        if ms is None:
            return None
        return format_bj(ms, with_ms=self._is(self.dirty.ms_times, "ms", key))

    def _number(self, value: float, key: int) -> float | str:
        return f"{value:.2f}" if self._is(self.dirty.numeric_strings, "numstr", key) else value

    def _shop(self, index: int, key: int) -> tuple[int, str | None]:
        name = None if self._is(self.dirty.null_fields, "null", key) else SHOPS[index][0]
        return SHOP_BASE + index, name

    def _line(self, day: OrderDay, line: int, key: int) -> dict:
        sku, qty, price, gift, no_key = day.line(line)
        cat = self.catalog
        known = sku >= 0
        return {
            "sku_id": None if no_key else cat.sku_id(sku),
            "i_id": cat.i_id(sku) if known else None,
            "name": cat.sku_name(sku) if known else "未建档商品",
            "properties_value": cat.properties(sku) if known else None,
            "qty": str(qty) if self._is(self.dirty.numeric_strings, "numstr", key) else qty,
            "sale_price": self._number(price, key),
            "sale_amount": self._number(round(price * qty, 2), key),
            "is_gift": gift,
        }

    def sales_out(self, day: OrderDay, i: int, now: int, modified: int) -> dict:
        key = day.io_id(i)
        status = day.out_status_of(i, now)
        lines = int(day.n_lines[i]) - (1 if day.t_drop[i] <= now else 0)
        start = int(day.line_start[i])
        items = []
        for n in range(lines):
            item = {"ioi_id": key * 10 + n + 1, "oi_id": day.o_id(i) * 10 + n + 1}
            items.append(item | self._line(day, start + n, key))
        freight = float(day.freight[i])
        lines_bought = [day.line(line) for line in range(start, start + lines)]
        pay = round(sum(price * qty for _, qty, price, _, _ in lines_bought) + freight, 2)
        # 优惠: what the line discounts and gifts took off the list prices (payable = list - free + freight).
        free = round(sum((float(day.line_list_price[start + n]) - price) * max(qty, 0)
                         for n, (_, qty, price, _, _) in enumerate(lines_bought)), 2)
        state, city = self._receiver(day, i, key)
        confirmed_at = int(day.t_confirm[i])
        io_date = confirmed_at if confirmed_at <= now else int(day.created[i])
        shop_id, shop_name = self._shop(int(day.shop[i]), key)
        row = {
            "io_id": key,
            "o_id": day.o_id(i),
            "so_id": None if self._is(self.dirty.null_fields, "null-so", key) else f"SO{day.o_id(i)}",
            "shop_id": shop_id,
            "shop_name": shop_name,
            "wms_co_id": CO_ID + int(day.wms[i]),
            "status": UNKNOWN_OUT_STATUS if day.bad_status[i] else OUT_STATUS[status],
            "io_date": self._time(io_date, key),
            "created": self._time(int(day.created[i]), key),
            "modified": self._time(modified, key),
            "pay_amount": self._number(pay, key),
            "paid_amount": self._number(pay if status == CONFIRMED else 0.0, key),
            "free_amount": self._number(free, key),
            "freight": self._number(freight, key),
            "receiver_state": state,
            "receiver_city": city,
            "pay_date": self._time(int(day.t_pay[i]), key),
            "ts": version_ts(modified, key),
            "items": items,
        }
        return self._spoil(row, key, ("pay_amount", "io_date"))

    def _receiver(self, day: OrderDay, i: int, key: int) -> tuple[str, str]:
        """Province and city as buyers and shops type them: mostly the official name, now and then
        a short form or stray spaces (`loose_provinces`), empty with the null fields."""
        if self._is(self.dirty.null_fields, "null-receiver", key):
            return "", ""
        name, _, cities = PROVINCES[int(day.province[i])]
        city = cities[int(day.city[i] * len(cities))]
        if self._is(self.dirty.loose_provinces, "loose-province", key):
            variants = (short_form(name), f" {name} ", f"{short_form(name)}\u3000", f"\t{name}")
            name = variants[int(_draw(self.seed, "loose-which", key) * len(variants))]
        return name, city

    def after_sale(self, day: OrderDay, k: int, now: int, modified: int) -> dict:
        key = day.as_id(k)
        i = int(day.as_order[k])
        kind = int(day.as_type[k])
        done = int(day.as_done[k]) <= now
        fate = int(day.as_fate[k])
        received = int(day.as_received[k]) <= now
        start = int(day.line_start[i])
        items, refund = [], 0.0
        for n in range(int(day.as_lines[k])):
            line = start + n
            qty = int(day.line_qty[line])
            price = float(day.line_price[line])
            refund += abs(qty) * price
            items.append({
                "asi_id": key * 10 + n + 1,
                "sku_id": None if day.line_no_key[line] else self.catalog.sku_id(int(day.line_sku[line])),
                "i_id": self.catalog.i_id(int(day.line_sku[line])) if day.line_sku[line] >= 0 else None,
                "name": self.catalog.sku_name(int(day.line_sku[line]))
                if day.line_sku[line] >= 0 else "未建档商品",
                "qty": qty,
                "r_qty": qty if received else 0,
                "price": self._number(price, key),
                "amount": self._number(round(price * qty, 2), key),
                "type": "退货" if kind in RETURN_TYPES else AS_TYPES[kind],
            })
        refund = round(refund, 2) if kind in REFUND_TYPES else 0.0
        if not done:
            status, shop_status = "WaitConfirm", "WAIT_SELLER_AGREE"
        else:
            status = {AS_CONFIRMED: "Confirmed", AS_CANCELLED: "Cancelled"}.get(fate, "Merged")
            shop_status = "SUCCESS" if fate == AS_CONFIRMED else "CLOSED"
        if kind in RETURN_TYPES:
            good_status = "SELLER_RECEIVED" if received else "BUYER_RETURNED_GOODS"
        else:
            good_status = "BUYER_RECEIVED" if unit(self.seed, "recv", key) < 0.5 else "BUYER_NOT_RECEIVED"
        confirm = int(day.as_done[k]) if done and fate == AS_CONFIRMED else None
        if confirm and self._is(self.dirty.null_fields, "null-confirm", key):
            confirm = None  # the ERP leaves it empty now and then: the metric falls back to modified
        shop_id, shop_name = self._shop(int(day.shop[i]), key)
        row = {
            "as_id": key,
            "outer_as_id": f"RF{key}",
            "o_id": day.o_id(i),
            "so_id": f"SO{day.o_id(i)}",
            "type": AS_TYPES[kind],
            "status": UNKNOWN_AS_STATUS if day.as_bad_status[k] else status,
            "good_status": good_status,
            "shop_status": shop_status,
            "as_date": self._time(int(day.as_created[k]), key),
            "created": self._time(int(day.as_created[k]), key),
            "modified": self._time(modified, key),
            "confirm_date": self._time(confirm, key) if confirm else None,
            "shop_id": shop_id,
            "shop_name": shop_name,
            "wms_co_id": CO_ID + int(day.wms[i]),
            "refund": self._number(refund, key),
            "payment": 0.0,
            "freight": 10.0 if kind == 2 else 0.0,
            "ts": version_ts(modified, key),
            "items": items,
        }
        return self._spoil(row, key, ("refund", "as_date"))

    def sku(self, index: int, modified: int) -> dict:
        cat = self.catalog
        return {
            "sku_id": cat.sku_id(index),
            "i_id": cat.i_id(index),
            "autoid": index + 1,
            "name": cat.sku_name(index),
            "short_name": cat.sku_name(index)[-8:],
            "properties_value": cat.properties(index),
            "sale_price": self._number(cat.sku_price(index, modified), index),
            "cost_price": self._number(float(cat.cost_price[index]), index),
            "enabled": int(cat.enabled[index]),
            "c_id": 1000 + int(cat.category[index]),
            "category": CATEGORIES[cat.category[index]],
            "brand": cat.sku_name(index)[:2],
            "supplier_id": 500 + index % 7,
            "supplier_name": f"供应商{index % 7 + 1}",
            "created": self._time(int(cat.created[index]), index),
            "modified": self._time(modified, index),
        }

    def inventory(self, index: int, tick: int, modified: int) -> dict:
        cat = self.catalog
        return {
            "sku_id": cat.sku_id(index),
            "i_id": cat.i_id(index),
            "name": cat.sku_name(index),
            **cat.stock(index, tick),
            "modified": self._time(modified, index),
            "ts": version_ts(modified, index),
        }

    def shop(self, index: int) -> dict:
        name, site = SHOPS[index]
        return {
            "shop_id": SHOP_BASE + index,
            "shop_name": name,
            "co_id": CO_ID,
            "shop_site": site,
            "nick": f"{site}_{index + 1:02d}",
            "short_name": name[:4],
            "group_id": 1 + index % 3,
            "group_name": ["自营", "分销", "新渠道"][index % 3],
            "created": "2024-03-01 10:00:00",
        }

    def flow(self, day: OrderDay, index: int) -> dict:
        when, doc, line, unit_no, kind = (int(c[index]) for c in day.flows())
        i = int(day.line_order[line])
        sku = int(day.line_sku[line])
        cost = float(self.catalog.cost_price[sku])
        ioi = day.io_id(i) * 10 + line - int(day.line_start[i]) + 1
        unit_key = ioi * 100 + unit_no
        if self._is(self.dirty.bad_inout_type, "inout", unit_key):
            # A code the documented vocabulary lacks, or the type written out as text.
            kind = 99 if unit(self.seed, "inout-which", unit_key) < 0.5 else "销售出仓"
        return {
            "io_id": doc,
            "o_id": str(day.o_id(i)),
            "inout_type": kind,
            "sku_id": self.catalog.sku_id(sku),
            "sku_sn": f"SN{ioi}{unit_no:02d}",
            "cost_price": f"{cost:.2f}",
            "cost_amount": cost,
            "create_time": self._time(when, doc),
            "modified_time": self._time(when, doc),
        }

    def _spoil(self, row: dict, key: int, fields: tuple[str, str]) -> dict:
        """Now and then one value the ERP let through unparseable (a number, then a time)."""
        if self._is(self.dirty.bad_values, "bad", key):
            number, time = fields
            if unit(self.seed, "bad-which", key) < 0.5:
                row[number] = "N/A"
            else:
                row[time] = "0000-00-00 00:00:00"
        return row

