"""ipx and a bare sharp loop, the Node.js peers of the transformation rows.

Both come from npm, installed by the suite on first use into .bench/ipx (kept between runs) and pinned so
that runs compare. Without Node.js or npm, or when the install fails, `PeerMissing` says why: the rows
that need a peer say so and the suite goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from bench import servers
from bench.common import CouldNotMeasure

IPX = "ipx@3.1.1"
REPO = Path(__file__).resolve().parents[1]
PREFIX = REPO / ".bench" / "ipx"
# The sharp loop: each (side, quality) a resize to fit inside side x side and a JPEG at that quality,
# progressive off and Huffman tables optimised, as Mediaplex and the bare pyvips loop write theirs.
SHARP_LOOP = """\
const sharp = require(process.argv[2]);
const source = process.argv[3];
const concurrency = Number(process.argv[4]);
const boxes = JSON.parse(process.argv[5]);
sharp.cache(false);
let next = 0;
async function worker() {
  while (next < boxes.length) {
    const [side, quality] = boxes[next++];
    const out = await sharp(source).resize(side, side, { fit: "inside" })
      .jpeg({ quality: quality, progressive: false, optimiseCoding: true }).toBuffer();
    if (!out.length) throw new Error("empty output");
  }
}
const started = process.hrtime.bigint();
Promise.all(Array.from({ length: concurrency }, worker)).then(() => {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ seconds: seconds, sharp: sharp.versions.sharp, vips: sharp.versions.vips }));
});
"""


class PeerMissing(RuntimeError):
    """A peer that could not be installed or started here; the message says why."""


def installed() -> Path:
    """The npm prefix holding ipx (and the sharp it brings), installing them on first use."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise PeerMissing("no Node.js and npm on PATH")
    stamp = PREFIX / f".installed-{IPX}"
    if not stamp.exists():
        PREFIX.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(PREFIX), IPX],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PeerMissing(f"npm install {IPX} failed: {done.stderr.strip()[-300:]}")
        stamp.touch()
    return PREFIX


def versions(prefix: Path) -> dict[str, str]:
    """The versions of ipx, sharp and the libvips sharp bundles."""
    found = {}
    for name in ("ipx", "sharp"):
        package = json.loads((prefix / "node_modules" / name / "package.json").read_text())
        found[name] = str(package["version"])
    return found


@contextlib.asynccontextmanager
async def ipx(prefix: Path, root: Path, port: int, work: Path) -> AsyncIterator[str]:
    """ipx serving the files under `root`, as `ipx serve --dir` does, with no cache of its results."""
    argv = [str(prefix / "node_modules" / ".bin" / "ipx"), "serve", "--dir", str(root), "--port", str(port)]
    # Any answer from ipx itself, a 404 for a file it has not, means it is listening.
    async with servers.peer("ipx", argv, f"http://127.0.0.1:{port}", "/_/missing.jpg", work / "ipx.log",
                            env={**os.environ, "NODE_ENV": "production"}) as url:
        yield url


async def sharp_seconds(prefix: Path, source: Path, boxes: list[tuple[int, int]], concurrency: int,
                        work: Path) -> float:
    """Seconds the bare sharp loop takes for one resize of `source` per (side, quality)."""
    script = work / "sharp-loop.js"
    script.write_text(SHARP_LOOP)
    process = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", str(script), str(prefix / "node_modules" / "sharp"), str(source),
        str(concurrency), json.dumps(boxes),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise CouldNotMeasure(f"the sharp loop failed: {err.decode(errors='replace')[-300:]}")
    return float(json.loads(out)["seconds"])
