"""How a dataset is read from the ERP's open API, as data (path, rows key, paging, window, cursor,
key). Each dataset's declaration (`qeasy.datasets`) holds one; the client, the sandbox and the ODS
assets read it."""

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """How one dataset is read from the open API (its name and description come from its declaration)."""

    dataset: str = ""
    description: str = ""  # one line for the people who read the asset in the UI
    path: str
    rows_key: str | None  # None: `data` itself is the array of rows
    page_size_default: int
    page_size_max: int
    primary_key: tuple[str, ...]
    window_days: int | None = None  # longest allowed time window; None: no window
    window_params: tuple[str, str] = ("modified_begin", "modified_end")
    cursor_param: str | None = None  # row-version cursor parameter (`ts` / `start_ts`)
    version_field: str | None = "ts"  # field that orders versions of a record
    time_field: str = "modified"  # the row's own time, which the window selects on
    has_next: bool = True  # False: the last page is a short page
    has_counts: bool = True  # reports `data_count` / `page_count`
    id_params: dict[str, int] = field(default_factory=dict)  # id-list lookups -> max ids
    page_params: tuple[str, str] = ("page_index", "page_size")
    first_page: int = 1  # the index of the first page (吉客云: 0)
    immutable: bool = False  # rows never change once written: plain index paging cannot drift
    # A server cursor: (request parameter, answer field); the first call sends "" (吉客云 scrollId).
    scroll: tuple[str, str] | None = None
    # An id cursor of a list without window: (request parameter, row field); each call asks for the
    # rows after the largest id seen so far (吉客云 maxQuantityId).
    id_cursor: tuple[str, str] | None = None
    fixed: dict[str, object] = field(default_factory=dict)  # sent with every call (吉客云 `fields`)
    # A list without window whose rows carry their own time (吉客云 stock): read whole at each pull,
    # each row filed on the Beijing day of its `time_field`, so it is partitioned by day like the rest.
    dated: bool = False
    # The window selects on a time that never moves (creation) while records change for up to this
    # many days after it: a day is the versions made on it (`version_field` time), read from its own
    # window and those of the days before it.
    revisit_days: int = 0
    # Rows are parts of a record (吉客云 stock: one per warehouse), each with its own key: the parts
    # sharing a primary key are staged as one record, these fields added up.
    part_key: tuple[str, ...] = ()
    summed: tuple[str, ...] = ()
    # (parameter, value, days): a window that ended more than `days` days ago asks for the archive
    # with parameter=value (吉客云 orders: isTableSwitch=2, older ones being only there).
    archive: tuple[str, object, int] | None = None

    @property
    def partitioned(self) -> bool:
        """Whether its rows are staged by Beijing day (else: one current list, like the shops)."""
        return self.window_days is not None or self.dated

    def paging(self, page: int, size: int | None = None) -> dict[str, int]:
        """The paging parameters of the `page`-th page (1 is the first, whatever the API counts from)."""
        index, size_param = self.page_params
        return {index: self.first_page + page - 1, size_param: size or self.page_size_max}


TOKEN_PATHS = {
    "init": "/openWeb/auth/getInitToken",
    "access": "/openWeb/auth/accessToken",
    "refresh": "/openWeb/auth/refreshToken",
}

