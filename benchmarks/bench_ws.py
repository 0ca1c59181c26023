"""WebSocket clients for the live feed, measured: ``websockets`` against ``picows`` on a local server.

    python benchmarks/bench_ws.py [--messages 200000] [--repeats 5] [--json out/ws.json]

A local ``websockets`` server sends recorded Binance frames (a depth diff and a
bookTicker from the shared recordings, or built-in samples) back to back; each
client receives them all. Per client, over ``--repeats`` runs in alternation:
CPU ns per message on the receiving side (process time of the client thread /
messages) and latency from the server's send stamp to the client's receive, at
a paced 2,000 messages/s (p50/p99 over every message). Median and spread
(min-max) over the repeats. picows is optional: without it only websockets runs.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

from _common import emit, parser

SAMPLE = (b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,'
          b'"s":"BTCUSDT","U":5123107832006,"u":5123107837557,"pu":5123107831937,"b":[["61496.50","0.010"],'
          b'["61510.90","0.000"],["61641.50","1.211"]],"a":[["61700.10","0.500"],["61701.20","0.000"]]}}')


def server(port_box: list[int], messages: int, paced: bool, ready: threading.Event,
           stop: threading.Event) -> None:
    from websockets.asyncio.server import serve

    async def handler(ws):  # noqa: ANN001, ANN202
        gap = 1 / 2000 if paced else 0.0
        for k in range(messages):
            stamp = b"%020d" % time.monotonic_ns()
            await ws.send(stamp + SAMPLE)
            if gap:
                await asyncio.sleep(gap)
            elif k % 256 == 0:
                await asyncio.sleep(0)
        await ws.close()

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None) as s:
            port_box[0] = next(iter(s.sockets)).getsockname()[1]
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    asyncio.run(main())


def run_websockets(url: str) -> tuple[int, float, list[int]]:
    from websockets.asyncio.client import connect

    lat: list[int] = []

    async def main() -> int:
        n = 0
        async with connect(url, compression=None, max_size=1 << 24) as ws:
            async for frame in ws:
                now = time.monotonic_ns()
                data = frame if isinstance(frame, bytes) else frame.encode()
                lat.append(now - int(data[:20]))
                n += 1
        return n
    t0 = time.thread_time_ns()
    n = asyncio.run(main())
    return n, (time.thread_time_ns() - t0) / max(n, 1), lat


def run_picows(url: str) -> tuple[int, float, list[int]]:
    from picows import WSListener, WSMsgType, ws_connect

    lat: list[int] = []
    count = [0]

    class Listener(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport, frame):  # noqa: ANN001, ANN201
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
                return
            now = time.monotonic_ns()
            data = frame.get_payload_as_bytes()
            lat.append(now - int(data[:20]))
            count[0] += 1

    async def main() -> None:
        transport, _ = await ws_connect(Listener, url)
        await transport.wait_disconnected()
    t0 = time.thread_time_ns()
    asyncio.run(main())
    return count[0], (time.thread_time_ns() - t0) / max(count[0], 1), lat


def measure(client, messages: int, paced: bool) -> tuple[float, list[int]]:  # noqa: ANN001
    port, ready, stop = [0], threading.Event(), threading.Event()
    t = threading.Thread(target=server, args=(port, messages, paced, ready, stop), daemon=True)
    t.start()
    ready.wait(10)
    n, ns_per_msg, lat = client(f"ws://127.0.0.1:{port[0]}/")
    stop.set()
    t.join(10)
    assert n == messages, (n, messages)
    return ns_per_msg, lat


def pct(xs: list[int], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q / 100 * len(xs)))] / 1000.0


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    clients = {"websockets": run_websockets}
    try:
        import picows  # noqa: F401
        clients["picows"] = run_picows
    except ImportError:
        print("picows not installed: websockets only")
    cpu: dict[str, list[float]] = {k: [] for k in clients}
    p50: dict[str, list[float]] = {k: [] for k in clients}
    p99: dict[str, list[float]] = {k: [] for k in clients}
    for _ in range(args.repeats):
        for name, client in clients.items():  # alternating
            ns, _ = measure(client, args.messages, paced=False)
            cpu[name].append(ns)
            _, lat = measure(client, 4000, paced=True)
            p50[name].append(pct(lat, 50))
            p99[name].append(pct(lat, 99))
    out: dict = {}
    lines = []
    for name in clients:
        out[name] = {"cpu_ns_per_message_median": statistics.median(cpu[name]),
                     "cpu_ns_spread": [min(cpu[name]), max(cpu[name])],
                     "latency_p50_us_median": statistics.median(p50[name]),
                     "latency_p99_us_median": statistics.median(p99[name]),
                     "latency_p99_us_spread": [min(p99[name]), max(p99[name])]}
        o = out[name]
        lines.append(f"{name:<11} cpu {o['cpu_ns_per_message_median']:8,.0f} ns/msg (spread "
                     f"{o['cpu_ns_spread'][0]:,.0f}-{o['cpu_ns_spread'][1]:,.0f}); paced latency p50 "
                     f"{o['latency_p50_us_median']:.1f} us, p99 {o['latency_p99_us_median']:.1f} us")
    if "picows" in out:
        ratio = out["websockets"]["cpu_ns_per_message_median"] / out["picows"]["cpu_ns_per_message_median"]
        lines.append(f"websockets / picows cpu per message: {ratio:.2f}x")
    emit(out, args.json, lines)


if __name__ == "__main__":
    main()
