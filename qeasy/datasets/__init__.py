"""Every dataset qeasy handles, one declaration each (`qeasy.datasets.declaration.Dataset`), and the
tables every layer reads, derived from them.

The built-in datasets are those of the ERP `QEASY_ERP` names: Jushuitan's (`qeasy.datasets.jushuitan`,
the default) or 吉客云's (`qeasy.datasets.jackyun`, mapped onto them). `QEASY_DATASETS` may name more
modules (comma-separated, importable), each with a `DATASETS` sequence of declarations and, if it
likes, a `METRICS` sequence of `qeasy.warehouse.ads.Metric`s over them: a merchant's own dataset is
one declaration in its own module, with no change to qeasy (README, "Add a dataset"); a module may
also replace a built-in declaration, naming it in `REPLACES`.
"""

import importlib
import os

from qeasy.datasets import jackyun, jushuitan
from qeasy.datasets.declaration import Dataset, Style, Wide
from qeasy.erp.endpoints import Endpoint

__all__ = ["BY_PATH", "CLEANSED", "DATASETS", "ENDPOINTS", "ERP", "ERPS", "EXTRA_METRICS", "JUSHUITAN",
           "PROBLEM", "PUBLISHED", "SHAPES", "Dataset", "Style", "Wide", "load"]

ERPS = {"jushuitan": jushuitan.DATASETS, "jackyun": jackyun.DATASETS}  # QEASY_ERP -> built-in datasets


def load(modules: str = "", metrics: list | None = None, erp: str = "jushuitan") -> dict[str, Dataset]:
    """The built-in declarations of `erp` and those of `modules` (comma-separated module names), by
    name; the modules' metrics are added to `metrics` when given. A module replaces the built-in
    declarations it names in its `REPLACES` (its own declaration of an UNCONFIRMED fact, say)."""
    if erp not in ERPS:
        raise ValueError(f"QEASY_ERP must be one of {', '.join(ERPS)}, not {erp!r}")
    datasets = {d.name: d for d in ERPS[erp]}
    built_in = set(datasets)
    for name in filter(None, (part.strip() for part in modules.split(","))):
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ValueError(f"QEASY_DATASETS: cannot import {name}: {exc}") from exc
        extra = getattr(module, "DATASETS", None)
        if extra is None or not all(isinstance(d, Dataset) for d in extra):
            raise ValueError(f"QEASY_DATASETS: {name} must define DATASETS, a sequence of Dataset")
        if len({d.name for d in extra}) < len(extra):
            raise ValueError(f"QEASY_DATASETS: {name} declares a dataset twice")
        replaces = set(getattr(module, "REPLACES", ()))
        if not replaces <= built_in & {d.name for d in extra}:
            raise ValueError(f"QEASY_DATASETS: {name} REPLACES {sorted(replaces)}: each must be a built-in "
                             f"dataset ({', '.join(sorted(built_in))}) it declares")
        for dataset in extra:
            if dataset.name in datasets and dataset.name not in replaces:
                raise ValueError(f"dataset {dataset.name!r} is declared twice (a module replaces a built-in "
                                 "one by naming it in REPLACES)")
            datasets[dataset.name] = dataset
        built_in -= replaces  # replaced once: a second module cannot replace it again
        if metrics is not None:
            metrics += getattr(module, "METRICS", ())
    tables = [d.wide.table for d in datasets.values() if d.wide]
    paths = [d.endpoint.path for d in datasets.values()]
    if len(set(tables)) < len(tables) or len(set(paths)) < len(paths):
        raise ValueError("two datasets declare the same wide table or API path")
    return datasets


EXTRA_METRICS: list = []  # the QEASY_DATASETS modules' metrics (qeasy.warehouse.ads adds them to its own)
ERP = os.environ.get("QEASY_ERP", "").strip().lower() or "jushuitan"
# Why QEASY_ERP / QEASY_DATASETS cannot be used, if they cannot: every entry point loads the settings
# first, which then stop with this one line (qeasy.settings), so the built-in datasets stand in.
PROBLEM: str | None = None
try:
    DATASETS: dict[str, Dataset] = load(os.environ.get("QEASY_DATASETS", ""), EXTRA_METRICS, ERP)
except ValueError as exc:
    PROBLEM, DATASETS, ERP = str(exc), load(), "jushuitan"
# What the sandbox serves on the Jushuitan protocol (and its ground truth names), whichever ERP is read.
JUSHUITAN: dict[str, Dataset] = DATASETS if ERP == "jushuitan" else load(os.environ.get("QEASY_DATASETS", ""))
ENDPOINTS: dict[str, Endpoint] = {name: d.endpoint for name, d in DATASETS.items()}
BY_PATH: dict[str, Endpoint] = {e.path: e for e in ENDPOINTS.values()}
SHAPES = {name: d.shape for name, d in DATASETS.items()}
CLEANSED = tuple(name for name, d in DATASETS.items() if d.dwd)  # cleansed into DWD
PUBLISHED = tuple(d for d in DATASETS.values() if d.wide)  # published as wide tables
