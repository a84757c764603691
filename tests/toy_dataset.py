"""A toy dataset declared in one place, the way a merchant adds one (QEASY_DATASETS=tests.toy_dataset):
purchase receipts (采购入库单), with the sandbox's rows in the declaration, late versions and one dirty
row of each kind cleansing must flag or quarantine.

`ROWS_PER_DAY` receipts happen each day (a receipt's `modified` is on its day); each day also edits the
previous day's first receipt (a later version: higher `ts`, 100 more received). Of each day's receipts,
one has a negative quantity and one an unknown status (flagged), one has no id (quarantined only).
"""

from datetime import date, timedelta

from qeasy.cleanse.fields import Field
from qeasy.cleanse.fields import Kind as K
from qeasy.cleanse.shapes import Shape
from qeasy.datasets import Dataset, Style, Wide
from qeasy.erp.endpoints import Endpoint
from qeasy.erp.times import parse_bj
from qeasy.warehouse.metric import Metric

ROWS_PER_DAY = 60  # with the late edit, more than one page of 50
NEGATIVE, UNKNOWN, KEYLESS = 5, 7, 9  # the dirty receipts of each day
STATUSES = {"Confirmed": "已入库", "WaitConfirm": "待入库"}


def receipt_id(day: date, n: int) -> int:
    return day.toordinal() * 1000 + n


def receipt(day: date, n: int, edited: bool = False) -> dict:
    """Receipt `n` of `day`, as the API writes it (its later version when `edited`)."""
    when = f"{day + timedelta(days=1)} 00:30:00" if edited else f"{day} {n % 24:02d}:{n % 60:02d}:07"
    return {
        "io_id": None if n == KEYLESS else receipt_id(day, n),
        "po_id": 500_000 + n,
        "sku_id": f"TOY-{n % 4}",
        "qty": -2 if n == NEGATIVE else (n + 1) + (100 if edited else 0),
        "cost_price": f"{n + 0.5:.2f}",
        "status": "Lost" if n == UNKNOWN else ("Confirmed" if n % 3 else "WaitConfirm"),
        "warehouse": "主仓",
        "modified": when,
        "ts": parse_bj(when) * 10 + n % 10,
    }


def rows(day: date, seed: int) -> list[dict]:
    """The records modified on `day` (the seed plays no part: the toy is the same for every merchant)."""
    return [*(receipt(day, n) for n in range(ROWS_PER_DAY)), receipt(day - timedelta(days=1), 0, edited=True)]


PURCHASE_IN = Dataset(
    name="purchase_in",
    description="Purchase receipts (采购入库单), by modification day: a toy dataset of the tests.",
    endpoint=Endpoint(path="/open/purchasein/query", rows_key="datas", page_size_default=30, page_size_max=50,
                      primary_key=("io_id",), window_days=7),
    shape=Shape(
        header=(Field("io_id", K.ID, "", "入库单号 receipt id"), Field("po_id", K.INT),
                Field("sku_id", K.REF), Field("qty", K.QTY, "", "入库数量 quantity received"),
                Field("cost_price", K.MONEY), Field("status", K.STATUS), Field("warehouse", K.TEXT),
                Field("modified", K.TIME), Field("ts", K.VERSION)),
        biz_time=("modified",),
    ),
    dwd="Purchase receipts (采购入库单), typed and flagged, every version staged.",
    wide=Wide(table="dws_purchase_in", style=Style.GRAIN,
              description="Purchase receipts (采购入库宽表), latest version of each."),
    labels=STATUSES,
    sandbox=rows,
)
DATASETS = [PURCHASE_IN]

# A metric over it, one record too: receipts and units received per day (confirmed, unflagged).
METRICS = [Metric(
    table="ads_purchase_in_daily",
    description="Purchase receipts per day (采购入库日报): receipts and units received (a toy metric).",
    sql="""SELECT biz_date AS stat_date, count() AS receipts,
                  sumIf(coalesce(qty, 0), status = 'Confirmed' AND is_anomaly = 0) AS received_qty
           FROM v_dws_purchase_in WHERE biz_date IN {days:Array(Date)} GROUP BY stat_date""",
    grain="stat_date",
    reads=("dws_purchase_in",),
    days=("purchase_in",),
    columns=(("stat_date", "Date", "统计日期 Beijing day of the receipts' modification"),
             ("receipts", "UInt64", "入库单数 receipts whose newest version is of the day"),
             ("received_qty", "Int64", "入库数量 units of the confirmed, unflagged receipts")),
)]
