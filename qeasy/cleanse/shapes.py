"""What a dataset's records look like, as data: each dataset's declaration (`qeasy.datasets`) holds one.

`key` is the grain within one record version; `lines` names the list exploded to one row per
line (a record without lines keeps one row whose line key is 0).
"""

from dataclasses import dataclass

from qeasy.cleanse.fields import Field
from qeasy.cleanse.fields import Kind as K


@dataclass(frozen=True, kw_only=True)
class Shape:
    dataset: str = ""  # set from the declaration
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
