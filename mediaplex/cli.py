"""The `mediaplex` command. Every flag falls back to a MEDIAPLEX_* environment variable."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

import msgspec

from core.config import Config
from core.ids import new_password
from core.kinds import LANES
from gateways.kit.descriptor import Gateway
from gateways.registry import GATEWAYS
from gateways.transform import signing
from mediaplex.admin import AdminError, add_user, create_token, make_admin, reprocess_failed
from mediaplex.admin import reprocess as reprocess_one
from mediaplex.blobcopy import copy_blobs, copy_renditions
from mediaplex.runtime import event_log, open_blobs, open_derived, projection_at
from store import generations
from store.fold import fold

DESCRIPTION = """\
Mediaplex: an event-sourced media pipeline speaking the Mastodon media API.

Every change is an event on NATS JetStream; SQLite read models are folded from it and can be
rebuilt from it at any time. Without --nats, an embedded nats-server keeps its store under --data.
"""


def _env(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    return env.get(f"MEDIAPLEX_{name}", default)


EMBEDDED = "empty starts an embedded broker, or uses the one of a server running on --data"
REQUIRED = "required: this role only ever joins a cluster"
# The commands that keep running: `serve` runs both parts, the others one each.
ROLES = ("serve", "gateway", "processor")
# The value of --blobs that keeps uploaded files in the object store of the NATS cluster.
NATS_BLOBS = "nats://"


def _common(parser: argparse.ArgumentParser, env: Mapping[str, str], *, nats: str = EMBEDDED,
            stream: bool = True) -> None:
    parser.add_argument(
        "--data", type=Path, default=Path(_env(env, "DATA", "data") or "data"),
        help="data directory: projection, renditions, embedded broker store (env MEDIAPLEX_DATA; default ./data)",
    )
    parser.add_argument(
        "--nats", default=_env(env, "NATS", ""),
        help=f"comma-separated NATS server URLs, e.g. nats://a:4222,nats://b:4222; {nats} (env MEDIAPLEX_NATS)",
    )
    parser.add_argument(
        "--blobs", default=_env(env, "BLOBS"),
        help="where uploaded files are kept: a directory, shared by every role on one host or volume, or "
             f"{NATS_BLOBS} for a JetStream object store bucket on the NATS cluster the log runs on, replicated "
             "like the stream (env MEDIAPLEX_BLOBS; default DATA/blobs)",
    )
    cache = Config().blob_cache_bytes
    parser.add_argument(
        "--blob-cache-bytes", type=_size, metavar="BYTES",
        # A string default goes through `type` too, so a bad variable is a usage error.
        default=_env(env, "BLOB_CACHE_BYTES", "") or str(cache),
        help=f"with {NATS_BLOBS}: bytes of blobs this host keeps for libvips and FFmpeg to read, and of each of its "
             f"renditions and variants, least recently used first out; a number, or with K, M or G "
             f"(env MEDIAPLEX_BLOB_CACHE_BYTES; default {cache // 2**30}G)",
    )
    if stream:
        # Any command that connects may be the first and create the stream (and its buckets).
        parser.add_argument(
            "--stream-replicas", type=int, choices=range(1, 6), metavar="N",
            default=int(_env(env, "STREAM_REPLICAS", "1") or 1),
            help="copies of the stream and its key-value buckets a JetStream cluster keeps, when this command "
                 "creates them; 3 survives losing one node (env MEDIAPLEX_STREAM_REPLICAS; default 1)",
        )


def _listen(parser: argparse.ArgumentParser, env: Mapping[str, str], *, port: int, what: str) -> None:
    parser.add_argument("--host", default=_env(env, "HOST", "127.0.0.1"),
                        help="address to listen on (env MEDIAPLEX_HOST; default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(_env(env, "PORT", str(port)) or port),
                        help=f"port of {what}, 0 for any free one (env MEDIAPLEX_PORT; default {port})")


def _gateway_flags(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    _listen(parser, env, port=8080, what="the gateways, /healthz and /readyz")
    parser.add_argument("--unposted-ttl", type=float, default=float(_env(env, "UNPOSTED_TTL", "86400") or 86400),
                        help="seconds after which uploads that nothing attached are deleted (pump.io, presigned) "
                             "(env MEDIAPLEX_UNPOSTED_TTL; default 86400)")
    _sweep_grace(parser, env, "temp file, or an uploaded file no media names,")
    parser.add_argument("--public-url", default=_env(env, "PUBLIC_URL", ""),
                        help="URL clients reach this server at, used in every URL it hands out "
                             "(env MEDIAPLEX_PUBLIC_URL; default http://HOST:PORT)")
    for gateway in GATEWAYS:
        settings_flags(parser, env, gateway)


def _yes_no(value: str) -> bool:
    # bool("no") is True: a switch is spelled out.
    lowered = value.strip().lower()
    if lowered in ("yes", "true", "on", "1"):
        return True
    if lowered in ("no", "false", "off", "0"):
        return False
    raise argparse.ArgumentTypeError(f"not yes or no: {value!r}")


def settings_flags(parser: argparse.ArgumentParser, env: Mapping[str, str], gateway: Gateway) -> None:
    """The gateway's own settings, typed and defaulted by its settings Struct."""
    if gateway.settings is None or not gateway.flags:
        return
    group = parser.add_argument_group(f"{gateway.name} gateway")
    defaults = gateway.settings()
    kinds = {f.name: f.type for f in msgspec.structs.fields(gateway.settings)}
    for flag in gateway.flags:
        default = getattr(defaults, flag.field)
        kind = _yes_no if kinds[flag.field] is bool else kinds[flag.field]
        shown = f"; default {default}" if default != "" else ""
        group.add_argument(flag.flag, dest=flag.dest, type=kind, default=kind(env.get(flag.env, str(default))),
                           help=f"{flag.help} (env {flag.env}{shown})")



def gateway_settings(args: argparse.Namespace, gateways: Iterable[Gateway] = GATEWAYS) -> tuple[msgspec.Struct, ...]:
    """Each gateway's settings Struct from its flags (a command with gateway flags only)."""
    return tuple(
        gateway.settings(**{flag.field: getattr(args, flag.dest) for flag in gateway.flags})
        for gateway in gateways
        if gateway.settings is not None
    )


def _sweep_grace(parser: argparse.ArgumentParser, env: Mapping[str, str], what: str) -> None:
    grace = Config().sweep_grace
    parser.add_argument("--sweep-grace", type=_seconds, metavar="SECONDS",
                        # A string default goes through `type` too, so a bad variable is a usage error.
                        default=_env(env, "SWEEP_GRACE", "") or f"{grace:g}",
                        help=f"seconds a {what} is left alone before it is removed as a crash's leftover "
                             f"(env MEDIAPLEX_SWEEP_GRACE; default {grace:g})")


def _processing(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    default = Config().processor_concurrency
    parser.add_argument("--processor-concurrency", type=_positive, metavar="N",
                        default=_positive(_env(env, "PROCESSOR_CONCURRENCY", str(default)) or str(default)),
                        help="images this process works on at once (env MEDIAPLEX_PROCESSOR_CONCURRENCY; "
                             f"default {default})")
    av = Config().av_concurrency
    parser.add_argument("--av-concurrency", type=_positive, metavar="N",
                        default=_positive(_env(env, "AV_CONCURRENCY", str(av)) or str(av)),
                        help="videos, and audio files, this process works on at once, each lane "
                             f"(env MEDIAPLEX_AV_CONCURRENCY; default {av})")
    # A string default goes through `type` too, so a bad variable is a usage error.
    parser.add_argument("--media", type=_lanes, metavar="|".join((*LANES, "all")),
                        default=_env(env, "MEDIA", "") or "all",
                        help="the kinds of media this process works on: image, video (with animated GIFs), "
                             "audio, or all (env MEDIAPLEX_MEDIA; default all). Each has its own consumer, "
                             "so replicas can be run per kind")


def _lanes(text: str) -> tuple[str, ...]:
    if text == "all":
        return LANES
    if text not in LANES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(LANES)} or all, not {text!r}")
    return (text,)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _size(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    number, unit = (text[:-1], units[text[-1].upper()]) if text[-1:].upper() in units else (text, 1)
    try:
        value = int(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of bytes, optionally with K, M or G, not {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more bytes, not {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, not {text}")
    return value


def _transform_key(parser: argparse.ArgumentParser, env: Mapping[str, str], purpose: str) -> None:
    parser.add_argument("--transform-key", default=_env(env, "TRANSFORM_KEY", ""),
                        help=f"HMAC key of image transformation URLs: {purpose} (env MEDIAPLEX_TRANSFORM_KEY)")


def parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="mediaplex", description=DESCRIPTION,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("-v", "--verbose", action="store_true", help="log more, including HTTP access")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run gateways, projection and processor in one process",
                                description="Run everything in one process and serve HTTP until interrupted.")
    _common(serve, env)
    _gateway_flags(serve, env)
    _processing(serve, env)

    gateway = commands.add_parser(
        "gateway", help="run the HTTP gateways, projection and sweeper against a NATS cluster; no processing",
        description="Serve every HTTP gateway from a local projection of the cluster's log, until interrupted. "
                    "Uploads are processed by `mediaplex processor` processes.",
    )
    _common(gateway, env, nats=REQUIRED)
    _gateway_flags(gateway, env)

    processor = commands.add_parser(
        "processor", help="process uploads from a NATS cluster; serves only /healthz and /readyz",
        description="Process uploads, bound to the durable consumer every processor shares, until interrupted.",
    )
    _common(processor, env, nats=REQUIRED)
    _listen(processor, env, port=8081, what="/healthz and /readyz")
    _processing(processor, env)
    _sweep_grace(processor, env, "temp file of a rendition")

    sign = commands.add_parser("sign-url", help="sign an image transformation URL; prints it alone on stdout",
                               description="Append s=, the signature a server with this key checks, to URL.")
    sign.add_argument("url")
    _transform_key(sign, env, "the key the server was started with")

    rebuild = commands.add_parser(
        "rebuild", help="replay the log into a fresh projection and make it the live one",
        description="Replay every event from sequence 1 into a new projection file beside the live one, "
                    "then make it the live one: a server running on --data switches to it without a restart. "
                    "Prints the events folded, events/s and, as its last line, the content digest.",
    )
    _common(rebuild, env)

    digest = commands.add_parser("digest", help="print the checkpoint and content digest of the live projection")
    _common(digest, env, stream=False)

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    user_add = user.add_parser("add", help="add a user (prints a generated password if none is given)")
    _common(user_add, env)
    user_add.add_argument("name")
    user_add.add_argument("--password", help="the password; generated and printed when left out")
    user_add.add_argument("--admin", action="store_true", help="the user may open the operator console (/console)")
    user_admin = user.add_parser("admin", help="let an existing user open the operator console")
    _common(user_admin, env)
    user_admin.add_argument("name")

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    token_create = token.add_parser("create", help="issue a bearer token; prints it alone on stdout")
    _common(token_create, env)
    token_create.add_argument("name", help="the user the token acts as")
    token_create.add_argument("--scopes", default="read write", help='space-separated scopes (default "read write")')

    again = commands.add_parser(
        "reprocess", help="process media again; prints each request",
        description="Ask the processors to process MEDIA_ID, or every media whose processing failed, "
                    "again. Each request yields exactly one new outcome.",
    )
    _common(again, env)
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("media_id", nargs="?", metavar="MEDIA_ID", help="the media to process again")
    which.add_argument("--failed", action="store_true", help="every media whose processing failed")

    blobs = commands.add_parser("blobs", help="manage the blob store").add_subparsers(dest="action", required=True)
    copy = blobs.add_parser(
        "copy", help="copy every blob of one store into another, e.g. a directory into the object store",
        description="Copy every blob of --from into --to, each a directory or nats:// (the object store of the "
                    "NATS cluster of --nats). Blobs --to has already are skipped, so an interrupted copy is "
                    "finished by running it again; each blob's bytes must hash to its name. Into nats://, the "
                    "renditions under DATA/renditions are copied into its renditions bucket too.",
    )
    _common(copy, env)
    copy.add_argument("--from", dest="source", required=True, metavar="DIR|nats://", help="the store to copy")
    copy.add_argument("--to", dest="target", required=True, metavar="DIR|nats://", help="the store to fill")
    return top


def config_from(args: argparse.Namespace) -> Config:
    urls = tuple(u.strip() for u in (args.nats or "").split(",") if u.strip())
    fields: dict[str, object] = {"data_dir": args.data, "nats_urls": urls}
    if args.blobs:
        fields.update(_blob_store(args.blobs))
    if getattr(args, "blob_cache_bytes", None) is not None:
        fields["blob_cache_bytes"] = args.blob_cache_bytes
    if getattr(args, "stream_replicas", None) is not None:
        fields["stream_replicas"] = args.stream_replicas
    if getattr(args, "host", None) is not None:
        fields.update(host=args.host, port=args.port)
    if getattr(args, "public_url", None) is not None:
        fields.update(public_url=args.public_url or "", unposted_ttl=args.unposted_ttl,
                      gateway_settings=gateway_settings(args))
    if getattr(args, "sweep_grace", None) is not None:
        fields["sweep_grace"] = args.sweep_grace
    if getattr(args, "processor_concurrency", None) is not None:
        fields["processor_concurrency"] = args.processor_concurrency
        fields["av_concurrency"] = args.av_concurrency
        fields["processor_lanes"] = args.media
    return Config(**fields)  # type: ignore[arg-type]


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, total: int, stream: TextIO, unit: str = "events") -> None:
        self._total = max(total, 1)
        self._stream = stream
        self._shown = stream.isatty()
        self._unit = unit

    def __call__(self, done: int) -> None:
        if self._shown:
            width = 30
            filled = width * min(done, self._total) // self._total
            self._stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self._total} {self._unit}")
            self._stream.flush()

    def close(self) -> None:
        if self._shown:
            self._stream.write("\n")


async def rebuild(config: Config, out: TextIO, err: TextIO) -> int:
    async with event_log(config, name="mediaplex-rebuild", reuse_running=True) as events:
        head = await events.last_seq()
        directory = config.projection_dir
        path = generations.fresh(directory)
        marker = path.with_name(path.name + ".building")
        marker.touch()
        started = time.monotonic()
        progress = Progress(head, err)
        try:
            async with projection_at(path) as projection:
                await fold(events, projection, on_batch=progress)
                # The rows are read while the writer thread builds the indexes again; both spend
                # their time inside SQLite, so they overlap rather than take turns.
                (seq, digest), _ = await asyncio.gather(projection.digest(), projection.restore_indexes())
            elapsed = time.monotonic() - started
            # Closed and durable: a running server may open it as soon as the pointer names it.
            marker.unlink()
            generations.promote(directory, path)
        except BaseException:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            raise
        finally:
            marker.unlink(missing_ok=True)
            progress.close()
    rate = seq / elapsed if elapsed > 0 else 0.0
    print(f"rebuilt {seq} events in {elapsed:.2f}s ({rate:,.0f} events/s) into {path}", file=out)
    print(digest, file=out)
    return 0


def sign_url(url: str, key: str, out: TextIO, err: TextIO) -> int:
    if not key:
        print("mediaplex: no key: pass --transform-key or set MEDIAPLEX_TRANSFORM_KEY", file=err)
        return 2
    print(signing.sign_url(url, key), file=out)
    return 0


async def show_digest(config: Config, out: TextIO) -> int:
    pointer = config.projection_dir / generations.POINTER
    if not pointer.exists():
        print("no projection yet", file=sys.stderr)
        return 1
    async with projection_at(generations.current(config.projection_dir)) as projection:
        seq, digest = await projection.digest()
    print(f"{seq} {digest}", file=out)
    return 0


def _blob_store(where: str) -> dict[str, object]:
    """The Config fields of `--blobs WHERE`: the cluster's object store, or a directory."""
    if where == NATS_BLOBS:
        return {"blob_store": "nats"}
    return {"blob_store": "file", "blobs_dir": Path(where)}


async def copy_store(config: Config, source: str, target: str, out: TextIO, err: TextIO) -> int:
    if source == target:
        print("mediaplex: --from and --to name the same store", file=err)
        return 2
    def at(where: str) -> Config:
        return msgspec.structs.replace(config, **_blob_store(where))

    async with event_log(config, name="mediaplex-blobs", reuse_running=True) as events:
        started = time.monotonic()
        with _progress(err, "blobs") as shown:
            copied = await copy_blobs(await open_blobs(at(source), events), await open_blobs(at(target), events),
                                      shown)
        for name in copied.mismatched:
            print(f"mediaplex: left out {name}: its bytes do not hash to its name", file=err)
        print(f"copied {copied.copied} blobs, {copied.present} there already, {len(copied.mismatched)} left out "
              f"in {time.monotonic() - started:.1f} s", file=out)
        shared = (await open_derived(at(target), events)).renditions
        if shared is not None:
            started = time.monotonic()
            with _progress(err, "renditions") as shown:
                renditions = await copy_renditions(config.renditions, shared, shown)
            print(f"copied {renditions.copied} renditions, {renditions.present} there already "
                  f"in {time.monotonic() - started:.1f} s", file=out)
    return 1 if copied.mismatched else 0


@contextlib.contextmanager
def _progress(err: TextIO, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar of `unit`, shown from the first report on and closed after."""
    progress: Progress | None = None

    def shown(done: int, total: int) -> None:
        nonlocal progress
        progress = progress or Progress(total, err, unit=unit)
        progress(done)

    try:
        yield shown
    finally:
        if progress is not None:
            progress.close()


async def reprocess(config: Config, media_id: str | None, out: TextIO, err: TextIO) -> int:
    async with event_log(config, name="mediaplex-reprocess", reuse_running=True) as events:
        try:
            requests = [await reprocess_one(events, media_id)] if media_id else await reprocess_failed(events)
        except AdminError as exc:
            print(f"mediaplex: {exc}", file=err)
            return 1
    for request in requests:
        print(f"requested reprocessing of {request.media_id} (replacing outcome {request.after})", file=out)
    if not requests:
        print("no failed media", file=err)
    return 0


async def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.command == "sign-url":
        return sign_url(args.url, args.transform_key, out, err)
    config = config_from(args)
    if args.command in ROLES:
        from mediaplex.server import Parts, serve

        if args.command != "serve" and not config.nats_urls:
            print(f"mediaplex {args.command}: --nats (or MEDIAPLEX_NATS) is required: "
                  "this role joins a NATS cluster and never starts a broker of its own", file=err)
            return 2
        parts = Parts(gateways=args.command != "processor", processor=args.command != "gateway")
        await serve(config, parts)
        return 0
    if args.command == "rebuild":
        return await rebuild(config, out, err)
    if args.command == "digest":
        return await show_digest(config, out)
    if args.command == "reprocess":
        return await reprocess(config, args.media_id, out, err)
    if args.command == "blobs":
        return await copy_store(config, args.source, args.target, out, err)
    async with event_log(config, name=f"mediaplex-{args.command}", reuse_running=True) as events:
        if args.command == "user" and args.action == "admin":
            await make_admin(events, args.name)
            print(f"{args.name!r} is an admin", file=err)
            return 0
        if args.command == "user":
            password = args.password or new_password()
            await add_user(events, args.name, password, admin=args.admin)
            print(f"added {'admin' if args.admin else 'user'} {args.name!r}", file=err)
            if not args.password:
                print(f"password: {password}", file=out)
            return 0
        token = await create_token(events, args.name, tuple(args.scopes.split()))
        print(token, file=out)
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(os.environ).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command in ROLES else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # libvips reports every finished thread pool at INFO.
        for noisy in ("aiohttp.access", "pyvips"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return asyncio.run(run(args, sys.stdout, sys.stderr))
    except AdminError as exc:
        print(f"mediaplex: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.verbose:
            raise
        print(f"mediaplex: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
