"""What each ERP dataset's records look like, as data: one row of this table per dataset.

`key` is the grain within one record version; `lines` names the list exploded to one row per
line (a record without lines keeps one row whose line key is 0).
"""

from dataclasses import dataclass

from qeasy.cleanse.fields import Field
from qeasy.cleanse.fields import Kind as K


@dataclass(frozen=True)
class Shape:
    dataset: str
    header: tuple[Field, ...]
    lines: str | None = None
    line: tuple[Field, ...] = ()
    refined_by: str | None = None  # a field whose value refines the status label ("STATUS/VALUE")
    biz_time: tuple[str, ...] = ()  # times whose first present one dates the business day
    # The API serves only the current version (stock): every version seen is kept, because what
    # was seen is the only history there is. Others are re-read whole, so a day's rows are replaced.
    keeps_history: bool = False
    # The rows carry no `ts`: the version ingestion staged (the version field's time, epoch ms) is
    # the row's `ts`, so DWD and the wide table order versions the way the facts' `ts` does.
    staged_version: bool = False

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.header + self.line

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(f.out for f in self.fields if f.kind in (K.ID, K.KEY, K.CODE))

    @property
    def status(self) -> Field | None:
        return next((f for f in self.header if f.kind is K.STATUS), None)

    @property
    def code(self) -> Field | None:
        """The coded grain field whose label mapping is the vocabulary (unique-code inout_type)."""
        return next((f for f in self.header if f.kind is K.CODE), None)

    @property
    def added(self) -> tuple[str, ...]:
        """The columns cleansing adds after the fields (before the flags), in order."""
        return (*(("status_label",) if self.status else ()),
                *((f"{self.code.out}_label",) if self.code else ()),
                *(("ts",) if self.staged_version else ()),
                *(("biz_date",) if self.biz_time else ()))


def _fields(*specs: tuple) -> tuple[Field, ...]:
    return tuple(Field(*spec) for spec in specs)


# The fact datasets: cleansed into DWD, published as wide tables, counted in the metrics.
FACTS = ("sales_out", "after_sale", "inventory")
# Datasets cleansed into DWD and published as wide tables that no metric counts (yet).
FLOWS = ("unique_code",)
CLEANSED = FACTS + FLOWS

SHAPES = {
    shape.dataset: shape
    for shape in [
        Shape(
            "sales_out",
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
        Shape(
            "after_sale",
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
        Shape(
            "inventory",
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
        Shape(
            "unique_code",
            header=_fields(
                ("sku_sn", K.KEY),
                ("io_id", K.ID),
                ("inout_type", K.CODE),
                ("o_id", K.TEXT),  # a string in this API
                ("sku_id", K.REF),
                ("cost_price", K.MONEY),  # arrives as a numeric string
                ("cost_amount", K.MONEY),
                ("create_time", K.TIME),
                ("modified_time", K.TIME),
            ),
            biz_time=("create_time",),  # staged by creation day, so the staged day when unreadable
            staged_version=True,
        ),
        Shape(
            "sku",
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
        Shape(
            "shop",
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
    ]
}
