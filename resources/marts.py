"""The settings of the BI screens' marts as a Dagster resource."""

import dagster as dg

from qeasy.warehouse.ads import LEAD_DAYS, SAFETY_DAYS, mart_parameters
from qeasy.warehouse.commission import load_commission


class MartsResource(dg.ConfigurableResource):
    """Commission rates for the finance mart (qeasy.warehouse.commission) and the days of supply
    the suggested reorder quantity covers (lead time plus safety)."""

    commission_rates_file: str = ""  # empty: no rates, every platform fee unknown
    lead_days: int = LEAD_DAYS
    safety_days: int = SAFETY_DAYS

    def parameters(self) -> dict:
        """The marts' query parameters."""
        return mart_parameters(load_commission(self.commission_rates_file or None), self.lead_days,
                               self.safety_days)
