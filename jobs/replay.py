"""Dead-letter replay: which runs fetch the open dead letters again (used by the replay sensor and
by `qeasy replay`)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Replay:
    job: str  # "shops", or "main" for a day: the day again, through to the metrics it feeds
    day: str | None  # the partition (None for the unpartitioned shop list)
    recorded: str  # when its newest open dead letter was recorded: a new failure, a new replay


def replays(letters: list[tuple[str, str, str]]) -> list[Replay]:
    """One run per day with open dead letters (every dataset of the day at once), one for shops."""
    newest: dict[tuple[str, str | None], str] = {}
    for dataset, day, recorded in letters:
        key = ("shops", None) if dataset == "shop" else ("main", day)
        newest[key] = max(newest.get(key, ""), recorded)
    return [Replay(job, day, recorded) for (job, day), recorded in sorted(newest.items(), key=str)]
