"""Uploads and their outcomes in a row, folded in one pass to the rows they leave.

They are the bulk of a log that imports or backfills a library, and the general planner spends
most of its time on them making and taking apart a dict per change. Within such a run only three
kinds of change happen: an upload writes its whole media row and removes its request, an outcome
sets the same fields of a media row each time. So the run's net effect is known without ordering
statements: each media row the run uploads, as its last upload and the outcomes after it leave
it; for a media row from before the run, its last outcome; and the requests removed. These touch
different rows and commute, so they run in any order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import msgspec

from core.events import MediaProcessed, MediaUploaded
from core.log import Record
from store.readmodel import OUTCOME_COLUMNS, UPLOAD_COLUMNS, outcome_row, upload_row

# Records in a row from which they are folded as a run: a shorter run stays among the changes
# around it, where it shares their statements.
RUN = 64
# Where the outcome's fields begin in an upload's row: they end it.
OUTCOME_AT = len(UPLOAD_COLUMNS) - len(OUTCOME_COLUMNS)


class MediaRun(msgspec.Struct):
    # Media rows written whole, by media id, as the run leaves them.
    rows: dict[str, list[Any]]
    # Outcome fields for media rows the run did not write, by media id: the last outcome of each.
    outcomes: dict[str, list[Any]]
    # Requests the uploads remove.
    requests: list[str]


def fold_run(records: Sequence[Record]) -> MediaRun:
    rows: dict[str, list[Any]] = {}
    outcomes: dict[str, list[Any]] = {}
    requests: list[str] = []
    for record in records:
        event = record.event
        media_id = event.media_id  # type: ignore[union-attr]
        if type(event) is MediaUploaded:
            # The row is replaced whole, so an outcome before it is gone with the old row.
            rows[media_id] = upload_row(event)
            outcomes.pop(media_id, None)
            requests.append(media_id)
            continue
        fields = outcome_row(event)  # type: ignore[arg-type]
        row = rows.get(media_id)
        if row is None:
            outcomes[media_id] = fields
        else:
            row[OUTCOME_AT:] = fields
    return MediaRun(rows, outcomes, requests)


def split_runs(records: Sequence[Record]) -> Iterator[tuple[bool, Sequence[Record]]]:
    """(whether it is a run, its records): the records in order, runs of at least `RUN` apart."""
    start = 0
    begun = -1
    end = len(records)
    # One step past the last record ends a run that reaches the end as any other record would.
    for index in range(end + 1):
        kind = type(records[index].event) if index < end else None
        if kind is MediaUploaded or kind is MediaProcessed:
            if begun < 0:
                begun = index
            continue
        if begun >= 0 and index - begun >= RUN:
            if begun > start:
                yield False, records[start:begun]
            yield True, records[begun:index]
            start = index
        begun = -1
    if start < end:
        yield False, records[start:end]
