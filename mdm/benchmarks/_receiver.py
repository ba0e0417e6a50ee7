"""A lean webhook receiver for the publishing benchmark (asyncio, HTTP/1.1 keep-alive).

    python -m mdm.benchmarks._receiver --ports 9001,9002,9003 --out received.json

Answers every POST with 200 and notes (port, webhook id, golden id, version,
arrival time); on SIGTERM it writes what it noted to ``--out`` and exits.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    seen: list[tuple] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    if b":" in line:
                        name, _, value = line.partition(b":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                arrived = time.time()
                event = json.loads(body)["event"]
                seen.append((port, headers.get(b"webhook-id", b"").decode(), event["golden_id"], event["version"],
                             arrived))
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            return  # shutting down with the connection still open: what was seen is kept
        finally:
            writer.close()

    async def serve():
        servers = []
        for port in (int(p) for p in args.ports.split(",")):
            servers.append(await asyncio.start_server(lambda r, w, port=port: handle(r, w, port), "127.0.0.1", port,
                                                      backlog=512))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        for server in servers:
            server.close()
        with open(args.out, "w") as handle_out:
            json.dump(seen, handle_out)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
