"""Cleansing and data-quality settings as a Dagster resource."""

import dagster as dg

from qeasy.cleanse.labels import load_labels


class QualityResource(dg.ConfigurableResource):
    """Status labels for BI, and the anomaly share above which the warning check fails."""

    status_labels_file: str = ""  # JSON overrides of the default labels (see qeasy.cleanse.labels)
    max_anomaly_rate: float = 0.05

    def labels(self, dataset: str) -> dict[str, str]:
        return load_labels(self.status_labels_file or None).get(dataset, {})
