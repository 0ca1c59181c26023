"""Binance's public market-data endpoints: combined-stream URLs, stream names, REST depth snapshots.

Instrument ids are ``<venue>:<SYMBOL>`` (``binance-usdm:BTCUSDT``). Each venue
has one WebSocket base URL and one REST base URL in ``feed.binance``; the
paths below are Binance's documented ones: ``/stream?streams=a/b/c`` for a
combined stream (every message ``{"stream": name, "data": payload}``), and
``/api/v3/depth`` (spot), ``/fapi/v1/depth`` (USD-M), ``/dapi/v1/depth``
(COIN-M) for a snapshot (``{"lastUpdateId": ..., "bids": [[px, qty]...], ...}``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from quotepipe.config import BinanceFeedConfig

VENUES = ("binance-spot", "binance-usdm", "binance-coinm")
_KEY = {"binance-spot": "spot", "binance-usdm": "usdm", "binance-coinm": "coinm"}
DEPTH_PATH = {"binance-spot": "/api/v3/depth", "binance-usdm": "/fapi/v1/depth",
              "binance-coinm": "/dapi/v1/depth"}


def split_id(iid: str) -> tuple[str, str]:
    """``binance-usdm:BTCUSDT`` -> (``binance-usdm``, ``BTCUSDT``)."""
    venue, _, symbol = iid.partition(":")
    if venue not in VENUES or not symbol:
        raise ValueError(f"{iid!r} is not a Binance instrument id (<{'|'.join(VENUES)}>:<SYMBOL>)")
    return venue, symbol


def stream_names(symbol: str, cfg: BinanceFeedConfig) -> list[str]:
    """The streams of one symbol, as Binance names them (lower-case symbol)."""
    s = symbol.lower()
    out = []
    for kind in cfg.streams:
        if kind == "depth":
            out.append(f"{s}@depth@{cfg.depth_ms}ms")
        else:
            out.append(f"{s}@{kind}")
    return out


def ws_base(venue: str, cfg: BinanceFeedConfig) -> str:
    return str(getattr(cfg, f"{_KEY[venue]}_ws")).rstrip("/")


def rest_base(venue: str, cfg: BinanceFeedConfig) -> str:
    return str(getattr(cfg, f"{_KEY[venue]}_rest")).rstrip("/")


def combined_url(venue: str, streams: list[str], cfg: BinanceFeedConfig) -> str:
    return f"{ws_base(venue, cfg)}/stream?streams={'/'.join(streams)}"


def snapshot_url(venue: str, symbol: str, cfg: BinanceFeedConfig) -> str:
    query = urlencode({"symbol": symbol, "limit": cfg.snapshot_limit})
    return f"{rest_base(venue, cfg)}{DEPTH_PATH[venue]}?{query}"


def file_stem(iid: str) -> str:
    """The shared recordings' file naming: ``binance-usdm:BTCUSDT`` -> ``usdm_btcusdt``."""
    venue, symbol = split_id(iid)
    return f"{_KEY[venue] if venue != 'binance-coinm' else 'cm'}_{symbol.lower()}"
