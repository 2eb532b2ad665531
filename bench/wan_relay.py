#!/usr/bin/env python3
"""A shaped link on 127.0.0.1: a TCP relay in front of an upstream that emulates a site's uplink.

    python3 bench/wan_relay.py --target 127.0.0.1:5000 [--rate-mbit 200] [--delay-ms 5] [--stats FILE]

prints "relay listening on 127.0.0.1:PORT" once it accepts connections. What it does to traffic:

- Downstream (upstream -> client), every connection draws on ONE token bucket: together they get
  --rate-mbit, as many pulls share a site's link. The bucket hands out slots of at most 16 KiB in
  the order they are asked for, and each connection asks for one slot at a time, so concurrent
  connections interleave fairly; a connection waiting for its slot stops reading the upstream,
  whose TCP window then fills as on a real bottleneck.
- Both directions: each piece of data is delivered --delay-ms after it was sent (after its slot,
  downstream), and a new connection reaches the upstream one round trip (2 x delay) after it was
  accepted, as a TCP handshake across the link would.
- Killing the process drops every connection at once: an upstream that vanishes mid-blob.

--stats FILE: every 100 ms, the bytes relayed each way and the connections accepted and open, as
JSON, so a benchmark can count what crossed the link and wait until the link is quiet.
Standard library only (asyncio).
"""
import argparse
import asyncio
import json
import os
import sys

PIECE = 16 * 1024
READ = 64 * 1024


class TokenBucket:
    """One bucket for every connection: reservations in virtual time, first asked first served."""

    def __init__(self, bytes_per_second, burst_bytes):
        self.rate = float(bytes_per_second)
        self.burst_s = burst_bytes / self.rate
        self.clock = 0.0  # when the link has sent everything reserved so far

    def reserve(self, n, now):
        """The time at which `n` bytes have crossed the link, reserving the link until then."""
        # An idle link has saved up at most `burst` bytes' worth of time.
        self.clock = max(self.clock, now - self.burst_s) + n / self.rate
        return max(now, self.clock - self.burst_s)


class Stats:
    def __init__(self):
        self.down = 0
        self.up = 0
        self.accepted = 0
        self.open = 0


async def pump(reader, writer, delay, bucket, stats, direction):
    """Copies one direction: paced through the bucket (if any), delivered `delay` seconds later."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue(maxsize=256)

    broken = []

    async def deliver():
        # Ends at the end of the stream. A write that fails marks the pump broken and the rest of
        # the queue is dropped, so the reader never blocks on a full queue nobody empties.
        while True:
            item = await queue.get()
            if item is None:
                if not broken and writer.can_write_eof():
                    try:
                        writer.write_eof()
                    except (ConnectionError, OSError):
                        pass
                return
            if broken:
                continue
            due, data = item
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError) as e:
                broken.append(e)
                continue
            if direction == "down":
                stats.down += len(data)
            else:
                stats.up += len(data)

    delivery = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(READ)
            if not data:
                break
            for start in range(0, len(data), PIECE):
                piece = data[start:start + PIECE]
                sent = loop.time()
                if bucket is not None:
                    sent = bucket.reserve(len(piece), sent)
                    wait = sent - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                if broken:
                    raise broken[0]
                await queue.put((sent + delay, piece))
        await queue.put(None)
        await delivery
        if broken:
            raise broken[0]
    finally:
        delivery.cancel()


async def relay(client_reader, client_writer, target, delay, bucket, stats):
    stats.accepted += 1
    stats.open += 1
    upstream_writer = None
    try:
        # The handshake's round trip across the link.
        await asyncio.sleep(2 * delay)
        upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        up = asyncio.ensure_future(pump(client_reader, upstream_writer, delay, None, stats, "up"))
        down = asyncio.ensure_future(pump(upstream_reader, client_writer, delay, bucket, stats, "down"))
        # The connection lives until both directions have ended, or either breaks.
        done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        stats.open -= 1
        for writer in (client_writer, upstream_writer):
            if writer is not None:
                writer.close()


async def write_stats(path, stats):
    while True:
        temp = path + ".tmp"
        with open(temp, "w") as f:
            json.dump({"down": stats.down, "up": stats.up, "accepted": stats.accepted, "open": stats.open}, f)
        os.replace(temp, path)
        await asyncio.sleep(0.1)


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True, help="HOST:PORT of the upstream")
    parser.add_argument("--port", type=int, default=0, help="port to listen on, 127.0.0.1 (0: any free one)")
    parser.add_argument("--rate-mbit", type=float, default=200.0, help="downstream rate shared by all connections")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="added one-way latency, each direction")
    parser.add_argument("--burst-kib", type=float, default=256.0,
                        help="what an idle link may send at once (256 KiB: ~10 ms at 200 Mbit/s, "
                             "slack enough for the event loop's late wake-ups on a busy machine)")
    parser.add_argument("--stats", help="file to write the counters to, every 100 ms")
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    target = (host, int(port))
    bucket = TokenBucket(args.rate_mbit * 1e6 / 8, args.burst_kib * 1024) if args.rate_mbit > 0 else None
    delay = args.delay_ms / 1000.0
    stats = Stats()
    server = await asyncio.start_server(lambda r, w: relay(r, w, target, delay, bucket, stats),
                                        "127.0.0.1", args.port, backlog=1024)
    if args.stats:
        asyncio.ensure_future(write_stats(args.stats, stats))
    print("relay listening on 127.0.0.1:%d -> %s:%d, %.0f Mbit/s down shared, %.1f ms each way"
          % (server.sockets[0].getsockname()[1], host, target[1], args.rate_mbit, args.delay_ms), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
