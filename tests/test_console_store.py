"""What the console reads beside the read model: rebuilds in progress and the space stored files take."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.events import UserAdded
from core.log import Record
from store import generations
from store.projection import Projection
from store.rebuilds import Rebuild, rebuilds
from store.usage import Usage, usage


@pytest.mark.asyncio
async def test_a_rebuild_in_progress_shows_how_far_it_folded(tmp_path: Path) -> None:
    live = generations.current(tmp_path)
    path = generations.fresh(tmp_path)
    marker = path.with_name(path.name + ".building")
    marker.touch()
    projection = Projection(path, building=True)
    await projection.open()
    try:
        assert rebuilds(tmp_path) == [Rebuild(path.name, 0)]
        await projection.apply([Record(seq, UserAdded(at=1.0, user_id=f"u{seq}", password_hash="h"))
                                for seq in (1, 2, 3)])
        assert rebuilds(tmp_path) == [Rebuild(path.name, 3)]
    finally:
        await projection.close()
    marker.unlink()
    # Done, and the live file never was a rebuild.
    assert rebuilds(tmp_path) == [] and not generations.building(live)


def test_usage_counts_files_and_bytes_under_a_tree(tmp_path: Path) -> None:
    assert usage(tmp_path / "missing") == Usage(0, 0)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one").write_bytes(b"x" * 10)
    (tmp_path / "a" / "b" / "two").write_bytes(b"y" * 5)
    assert usage(tmp_path) == Usage(2, 15)
