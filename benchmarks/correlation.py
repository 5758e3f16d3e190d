"""Correlation speed and memory: the plain-Python evaluator against durable_rules' Rete engine.

A seeded stream of synthetic transfers (cars, with a VIN each, among other
goods) in which chains are planted: a car sent to one or two third countries,
then to the DPRK, within the window of the bundled rule
``un.dprk.luxury.vehicles.indirect``. Each engine runs in its own process over
the same stream, fed one transfer at a time in date order, as
``compliance watch`` feeds it; the table gives records per second, peak
memory (the process's high-water mark), the chains found, and how many of the
planted chains were found (all of them, or the run is wrong)::

    pip install -e ".[test]"                 # durable-rules: Python 3.11 or 3.12
    python benchmarks/correlation.py         # 100,000 records
    python benchmarks/correlation.py --records 20000 --chains 500
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

COUNTRIES = ["CN", "RU", "JP", "AE", "TR", "KZ", "DE", "FR", "US", "BR"]
GOODS = [("8703.23", "Saloon car"), ("8703.24", "Sport utility vehicle"),
         ("8471.30", "Laptop computers"), ("6403.59", "Leather shoes"),
         ("2208.30", "Whisky"), ("8413.70", "Water pumps")]


def generate(records: int, chains: int, seed: int = 7) -> tuple[list[dict[str, Any]], set[str]]:
    """Transfers as JSON-ready dicts, in date order, and the VINs of the planted chains."""
    rng = random.Random(seed)
    start = dt.date(2019, 1, 1)
    rows: list[tuple[dt.date, dict[str, Any]]] = []
    planted: set[str] = set()

    def transfer(n: int, day: dt.date, supplier: str, destination: str, hs: str, what: str,
                 vin: str | None) -> dict[str, Any]:
        item: dict[str, Any] = {"description": what, "hs_code": hs}
        if vin:
            item["identifiers"] = {"vin": vin}
        return {"id": f"t{n}", "date": day.isoformat(), "type": "sale",
                "supplier": {"name": f"Company {n % 997}", "country": supplier},
                "recipient": {"name": f"Buyer {n % 991}", "country": destination},
                "items": [item]}

    n = 0
    for c in range(chains):
        vin = f"PLANT{c:012d}"
        planted.add(vin)
        day = start + dt.timedelta(days=rng.randrange(0, 5 * 365))
        legs = rng.choice([1, 2])
        for _ in range(legs):
            rows.append((day, transfer(n, day, rng.choice(COUNTRIES), rng.choice(COUNTRIES[:5]),
                                       "8703.24", "Armoured limousine", vin)))
            n += 1
            day += dt.timedelta(days=rng.randrange(5, 200))
        rows.append((day, transfer(n, day, rng.choice(["CN", "RU"]), "KP", "8703.24",
                                   "Armoured limousine", vin)))
        n += 1
    while n < records:
        day = start + dt.timedelta(days=rng.randrange(0, 6 * 365))
        hs, what = rng.choice(GOODS)
        vin = f"NOISE{n:012d}" if hs.startswith("8703") else None
        destination = "KP" if rng.random() < 0.05 else rng.choice(COUNTRIES)
        rows.append((day, transfer(n, day, rng.choice(COUNTRIES), destination, hs, what, vin)))
        n += 1
    rows.sort(key=lambda pair: pair[0])
    return [row for _, row in rows], planted


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(engine: str, records: int, chains: int) -> dict[str, Any]:
    """One engine over the stream, in this process."""
    import compliance
    from compliance.correlate import Correlator
    from compliance.models import Transfer

    rows, planted = generate(records, chains)
    transfers = [Transfer.model_validate(row) for row in rows]
    bundled = compliance.load_rules()
    if engine == "rete":
        from compliance.rete import ReteCorrelator

        correlator: Any = ReteCorrelator(bundled)
    else:
        correlator = Correlator(bundled)
    start = time.perf_counter()
    found = []
    for transfer in transfers:
        found.extend(correlator.feed(transfer, "stream"))
    seconds = time.perf_counter() - start
    hits = {f.link for f in found} & planted
    return {"engine": engine, "records": len(transfers), "seconds": seconds,
            "per_second": len(transfers) / seconds, "peak_mb": _peak_mb(),
            "chains": len(found), "planted": len(planted), "planted_found": len(hits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--chains", type=int, default=2_000)
    parser.add_argument("--engine", choices=("plain", "rete"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # a child process: one engine, one JSON line
        print(json.dumps(run_engine(args.engine, args.records, args.chains)))
        return
    print(f"{'engine':<26}{'records':>9}{'seconds':>9}{'records/s':>11}{'peak MB':>9}"
          f"{'chains':>8}{'planted found':>15}")
    for engine in ("plain", "rete"):
        done = subprocess.run([sys.executable, __file__, "--engine", engine, "--records",
                               str(args.records), "--chains", str(args.chains)],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            print(f"{engine:<26}failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(done.stdout)
        name = "plain Python" if engine == "plain" else "durable_rules (Rete)"
        print(f"{name:<26}{r['records']:>9,}{r['seconds']:>9.2f}{r['per_second']:>11,.0f}"
              f"{r['peak_mb']:>9.0f}{r['chains']:>8,}{r['planted_found']:>8,} of"
              f" {r['planted']:,}")


if __name__ == "__main__":
    main()
