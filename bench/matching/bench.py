"""Matching-engine benchmark (a script, not a test): prints throughput, latency, memory.

    .venv/bin/python bench/matching/bench.py --mode mix --n 1000000
    .venv/bin/python bench/matching/bench.py --mode plain --n 1000000
    .venv/bin/python bench/matching/bench.py --mode memory --n 1000000

mix:    realistic mix with risk and events on (seeded): 40 % passive GTC limits over 50
        levels per side, 40 % cancels of resting orders, 10 % crossing GTC limits, 5 %
        IOC/FOK at the touch, 5 % market orders (buys bounded by a quote budget); 1000
        accounts. The book stays around 50 levels per side.
plain:  only GTC limit orders (random side, price around a fixed mid; ~half cross),
        for comparison with other engines.
memory: rests N non-crossing GTC orders and reports bytes per resting order (RSS delta).

Commands are generated before timing (the adapter's parsing is not measured). The
throughput pass times the whole loop; a second pass on a fresh engine times each
command with perf_counter_ns (~60-80 ns of timer overhead per sample is included).
"""

import argparse
import gc
import os
import platform
import random
import sys
import time
from typing import Any

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core import compiled
from exchange_core.domain import (
    AssetSpec,
    BalanceAdjust,
    CancelOrder,
    Engine,
    EngineConfig,
    MarketSpec,
    PlaceOrder,
    RiskLimits,
    codes,
)

SYMBOL = Symbol("BTC-USDT")
MID = 3_000_000  # 30000.00 at tick 0.01
LEVELS = 50
# Steady-state book of the mix: placed-to-rest orders tracked before passive placements
# turn into cancels (about 100 per level per side; the book holds ~8k of them).
BOOK_ORDERS = 10_000
ACCOUNTS = [AccountId(f"acct{i:04d}") for i in range(1_000)]


def config() -> EngineConfig:
    spec = MarketSpec(SYMBOL, Asset("BTC"), Asset("USDT"), tick_size="0.01", lot_size="0.0001",
                      min_quantity="0.0001", max_quantity="1000", min_notional="0",
                      price_band_bps=2_000, reference_price="30000", maker_fee_ppm=500,
                      taker_fee_ppm=1_000)
    return EngineConfig(assets=(AssetSpec(Asset("BTC"), 8), AssetSpec(Asset("USDT"), 6)),
                        markets=(spec,),
                        limits=RiskLimits(max_open_orders=1_000_000, rate_limit_count=1_000_000,
                                          rate_limit_window_ns=1_000_000_000))


def funded_engine() -> Engine:
    engine = Engine(config())
    for i, acct in enumerate(ACCOUNTS):
        engine.apply(BalanceAdjust(f"usdt-{i}", acct, Asset("USDT"), 10**18))
        engine.apply(BalanceAdjust(f"btc-{i}", acct, Asset("BTC"), 10**16))
    return engine


def place(acct: AccountId, side: int, otype: int, tif: int, price: int, qty: int, ts: int,  # noqa: PLR0917
          budget: int = 0) -> PlaceOrder:
    return PlaceOrder(SYMBOL, acct, "", side, otype, tif, price, qty, budget, 0, False,
                      codes.STP_NONE, ts, "")


def mix_commands(n: int, seed: int, book_orders: int = BOOK_ORDERS) -> list[Any]:
    """Seeded realistic mix. Order number == symbol seq == command index + 1.

    ``book_orders`` > 0 keeps the book in a steady state, as market makers do: while that
    many placed orders are still tracked as resting (some of them filled since, so the
    book holds fewer), a passive placement becomes a cancel. 0 lets the book grow with
    N (adds outnumber cancels: ~70 resting orders per 1000 commands)."""
    rng = random.Random(seed)
    out: list[Any] = []
    resting: list[int] = []  # order numbers that were placed to rest (may be filled since)
    for i in range(n):
        seq = i + 1
        acct = ACCOUNTS[rng.randrange(len(ACCOUNTS))]
        ts = seq * 1_000
        r = rng.random()
        side = codes.BUY if rng.random() < 0.5 else codes.SELL
        sign = 1 if side == codes.BUY else -1
        qty = rng.randint(1, 200)
        if r < 0.40 and book_orders and len(resting) >= book_orders:
            r = 0.40  # the book is full: cancel instead
        if r < 0.40 or (r < 0.80 and not resting):  # passive limit inside 50 levels
            price = MID - sign * rng.randint(1, LEVELS)
            out.append(place(acct, side, codes.LIMIT, codes.GTC, price, qty, ts))
            resting.append(seq)
        elif r < 0.80:  # cancel a (probably) resting order
            k = rng.randrange(len(resting))
            resting[k], resting[-1] = resting[-1], resting[k]
            victim = resting.pop()
            owner = out[victim - 1].account_id
            out.append(CancelOrder(SYMBOL, owner, f"{SYMBOL}:{victim}", "", ts, ""))
        elif r < 0.90:  # crossing limit, GTC (rests what is left)
            price = MID + sign * rng.randint(0, 3)
            out.append(place(acct, side, codes.LIMIT, codes.GTC, price, qty, ts))
            resting.append(seq)
        elif r < 0.95:  # IOC / FOK at or through the touch
            tif = codes.IOC if rng.random() < 0.6 else codes.FOK
            price = MID + sign * rng.randint(0, 2)
            out.append(place(acct, side, codes.LIMIT, tif, price, qty, ts))
        else:  # market: sells by quantity, buys with a quote budget
            budget = qty * MID * 10 * 2 if side == codes.BUY else 0
            out.append(place(acct, side, codes.MARKET, codes.IOC, 0, qty, ts, budget))
    return out


def plain_commands(n: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        side = codes.BUY if rng.random() < 0.5 else codes.SELL
        price = MID + rng.randint(-LEVELS, LEVELS)
        out.append(place(ACCOUNTS[rng.randrange(len(ACCOUNTS))], side, codes.LIMIT, codes.GTC,
                         price, rng.randint(1, 200), (i + 1) * 1_000))
    return out


def memory_command(i: int) -> PlaceOrder:
    """The i-th non-crossing GTC order over 1000 levels per side; built fresh each time so
    the resting order, not a retained command, owns its price and quantity objects."""
    side = codes.BUY if i % 2 else codes.SELL
    sign = 1 if side == codes.BUY else -1
    price = int(str(MID - sign * (1 + i % 1_000)))
    return place(ACCOUNTS[i % len(ACCOUNTS)], side, codes.LIMIT, codes.GTC, price,
                 int(str(1 + i % 200)), (i + 1) * 1_000)


def calibration_ns() -> float:
    """ns per call of a tiny Python function: a yardstick for comparing machines/load."""

    def f(a: int, b: int) -> int:
        return a + b

    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for i in range(200_000):
            f(i, 1)
        best = min(best, (time.perf_counter_ns() - t0) / 200_000)
    return best


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def tune_gc() -> None:
    """What a service could do after start/recovery (the domain itself never touches the
    GC): move everything alive into the permanent generation and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def throughput(cmds: list[Any], gc_off: bool, gc_tuned: bool = False,
               hash_every: int = 0) -> tuple[float, float, Engine]:
    """(commands/s by wall clock, commands/s by this process's CPU time, engine).

    ``hash_every`` > 0: the state hash is taken after every that many commands (what the
    service does at each checkpoint), inside the timed loop."""
    engine = funded_engine()
    apply = engine.apply
    every = hash_every or len(cmds)
    gc.collect()
    if gc_tuned:
        tune_gc()
    if gc_off:
        gc.disable()
    c0, t0 = time.process_time(), time.perf_counter()
    for start in range(0, len(cmds), every):
        for cmd in cmds[start:start + every]:
            apply(cmd)
        if hash_every:
            engine.state_hash()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    gc.enable()
    return len(cmds) / wall, len(cmds) / cpu, engine


def latencies(cmds: list[Any], gc_off: bool, gc_tuned: bool = False,
              hash_every: int = 0) -> list[int]:
    """Per-command latency; a checkpoint's state hash counts in its command's sample."""
    engine = funded_engine()
    apply = engine.apply
    clock = time.perf_counter_ns
    samples = [0] * len(cmds)
    gc.collect()
    if gc_tuned:
        tune_gc()
    if gc_off:
        gc.disable()
    state_hash = engine.state_hash
    for i, cmd in enumerate(cmds):
        t0 = clock()
        apply(cmd)
        if hash_every and (i + 1) % hash_every == 0:
            state_hash()
        samples[i] = clock() - t0
    gc.enable()
    samples.sort()
    return samples


def mix_of(cmds: list[Any]) -> str:
    """The command mix as shares of the stream (what the generator actually produced)."""
    counts: dict[str, int] = {}
    for cmd in cmds:
        if type(cmd) is CancelOrder:
            kind = "cancel"
        elif cmd.order_type == codes.MARKET:
            kind = "market"
        elif cmd.time_in_force != codes.GTC:
            kind = "ioc/fok"
        else:
            kind = "gtc"
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{k} {100 * v / len(cmds):.1f} %" for k, v in sorted(counts.items()))


def pct(samples: list[int], p: float) -> float:
    return samples[min(len(samples) - 1, int(len(samples) * p))] / 1_000


def describe(engine: Engine) -> str:
    depth = engine.book(SYMBOL, 1_000_000)
    assert depth is not None
    resting = sum(lv[2] for lv in depth.bids) + sum(lv[2] for lv in depth.asks)
    return f"levels bid/ask {len(depth.bids)}/{len(depth.asks)}, resting orders {resting}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["mix", "plain", "memory"], default="mix")
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--book-orders", type=int, default=BOOK_ORDERS,
                        help="mix: steady-state book size (placed-to-rest orders tracked "
                             "before passive placements turn into cancels); 0 = the book "
                             "grows with N")
    parser.add_argument("--repeat", type=int, default=1,
                        help="throughput passes (each on a fresh engine): prints min/median/"
                             "max, for a VM whose speed drifts between runs")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--gc-off", action="store_true",
                        help="disable the cyclic GC while timing (a service would gc.freeze())")
    parser.add_argument("--gc-tune", action="store_true",
                        help="gc.freeze() + gc.set_threshold(50_000, 20, 100) before timing "
                             "(what the core service does after recovery)")
    parser.add_argument("--hash-every", type=int, default=0,
                        help="take the state hash every N commands, timed (the service's "
                             "CORE_CHECKPOINT_EVERY_COMMANDS default); 0 = never")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {sys.version.split()[0]} ({platform.python_implementation()}), "
          f"engine module {Engine.__module__} from {sys.modules[Engine.__module__].__file__}")
    print(f"build: {compiled.STATUS}")
    print(f"mode={args.mode} n={args.n} seed={args.seed}; load average "
          f"{os.getloadavg()[0]:.2f}; calibration: {calibration_ns():.0f} ns per tiny call")
    if args.mode == "memory":
        engine = funded_engine()
        gc.collect()
        before = rss_bytes()
        for i in range(args.n):
            engine.apply(memory_command(i))
        gc.collect()
        after = rss_bytes()
        print(describe(engine))
        print(f"bytes per resting order (RSS delta): {(after - before) / args.n:.0f}")
        return
    cmds = mix_commands(args.n, args.seed, args.book_orders) if args.mode == "mix" else (
        plain_commands(args.n, args.seed))
    print(f"commands: {mix_of(cmds)}")
    rate, cpu_rate, engine = throughput(cmds, args.gc_off, args.gc_tune, args.hash_every)
    gc_mode = "off" if args.gc_off else "tuned" if args.gc_tune else "on"
    print(f"throughput: {rate:,.0f} commands/s wall ({1e6 / rate:.2f} us/command), "
          f"{cpu_rate:,.0f} commands/s of process CPU time; gc {gc_mode}; state hash every "
          f"{args.hash_every or 'never'}")
    if args.repeat > 1:
        rates = [rate] + [throughput(cmds, args.gc_off, args.gc_tune, args.hash_every)[0]
                          for _ in range(args.repeat - 1)]
        rates.sort()
        print(f"throughput over {len(rates)} passes (fresh engine each): min {rates[0]:,.0f} "
              f"median {rates[len(rates) // 2]:,.0f} max {rates[-1]:,.0f} commands/s wall; "
              f"calibration now {calibration_ns():.0f} ns")
    print(f"end state: {describe(engine)}")
    if not args.no_latency:
        s = latencies(cmds, args.gc_off, args.gc_tune, args.hash_every)
        print(f"latency us: p50 {pct(s, 0.5):.2f}  p99 {pct(s, 0.99):.2f}  "
              f"p99.9 {pct(s, 0.999):.2f}  max {s[-1] / 1_000:.1f}")


if __name__ == "__main__":
    main()
