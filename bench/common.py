"""What every benchmark shares: medians over runs and the JSON figures `bench/run_all.py` collects."""

import argparse
import json
import statistics
from pathlib import Path


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")


def write_json(path: Path | None, figures: object) -> None:
    if path is not None:
        path.write_text(json.dumps(figures, indent=1, ensure_ascii=False, default=str))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
