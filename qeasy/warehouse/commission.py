"""Platform commission rates for the finance mart (screens.md): a JSON file keyed by the shop's
`shop_site` exactly as the ERP writes it, with optional per-shop overrides under "shops":

    {"天猫": 0.05, "京东": 0.06, "shops": {"16800003": 0.04}}

There are no built-in rates: a shop without one has an unknown fee (0, flagged `fee_rate_known = 0`).
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path


@dataclass(frozen=True)
class Commission:
    """Rates as exact decimals, by platform and by shop id (a shop's own rate wins)."""

    sites: dict[str, Decimal] = field(default_factory=dict)
    shops: dict[int, Decimal] = field(default_factory=dict)

    def parameters(self) -> dict[str, list]:
        """The finance query's parameters (qeasy.warehouse.ads.RATE)."""
        return {"rate_sites": list(self.sites), "site_rates": [str(rate) for rate in self.sites.values()],
                "rate_shops": list(self.shops), "shop_rates": [str(rate) for rate in self.shops.values()]}


def _rate(value: object, where: str) -> Decimal:
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        rate = Decimal(-1)
    if isinstance(value, bool) or not Decimal(0) <= rate < Decimal(1):
        raise ValueError(f"{where} must be a rate between 0 and 1 (0.05 means 5%), not {value!r}")
    return rate


def load_commission(path: str | None) -> Commission:
    """The rates in the file at `path` (none when `path` is empty); ValueError naming what is wrong."""
    if not path:
        return Commission()
    name = "QEASY_COMMISSION_RATES"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{name}: cannot read {path} as JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("shops", {}), dict):
        raise ValueError(f'{name}: {path} must hold {{"<shop_site>": rate, ..., '
                         '"shops": {"<shop_id>": rate}}')
    shops = {}
    for shop, rate in data.get("shops", {}).items():
        if not str(shop).isdigit():
            raise ValueError(f"{name}: shop ids under \"shops\" are numbers, not {shop!r}")
        shops[int(shop)] = _rate(rate, f"{name} shops.{shop}")
    sites = {site: _rate(rate, f"{name} {site}") for site, rate in data.items() if site != "shops"}
    return Commission(sites, shops)
