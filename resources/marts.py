"""The settings of the BI screens' marts as a Dagster resource."""

import dagster as dg

from qeasy.warehouse.commission import load_commission


class MartsResource(dg.ConfigurableResource):
    """Commission rates for the finance mart (qeasy.warehouse.commission)."""

    commission_rates_file: str = ""  # empty: no rates, every platform fee unknown

    def parameters(self) -> dict[str, list]:
        """The marts' query parameters."""
        return load_commission(self.commission_rates_file or None).parameters()
