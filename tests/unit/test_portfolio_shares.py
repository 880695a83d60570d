"""static/js/portfolio.js rounds the allocation's shares so the shown ones add up to exactly 100.00 %:
its `shares` (as written there, run under node with big.js) on many random portfolios, against the
exact shares computed here."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
BIG = REPO / "node_modules" / "big.js" / "big.mjs"


def test_shares_add_up_to_100_and_each_is_within_a_hundredth_of_exact(tmp_path: Path) -> None:
    assert NODE is not None and BIG.exists(), "node and node_modules come with `make setup` (npm ci)"
    source = (REPO / "static" / "js" / "portfolio.js").read_text()
    function = re.search(r"^export function shares\(.*?^}$", source, re.S | re.M)
    assert function is not None
    rng = random.Random(15)
    cases = []
    for _ in range(300):
        values = [Decimal(rng.randint(0, 10**12)) / 10**rng.randint(0, 8) for _ in range(rng.randint(1, 7))]
        if sum(values) > 0:
            cases.append(values)
    script = tmp_path / "shares.mjs"
    script.write_text(f'import Big from "{BIG.as_uri()}";\n' + function.group(0)
                      + "\nconst cases = JSON.parse(process.argv[2]);\n"
                      + "console.log(JSON.stringify(cases.map((vs) => {\n"
                      + "  const b = vs.map((v) => new Big(v));\n"
                      + "  const total = b.reduce((a, x) => a.plus(x), new Big(0));\n"
                      + "  return shares(b, total).map((s) => s.toFixed(2));\n"
                      + "})));\n")
    out = subprocess.run([NODE, str(script), json.dumps([[str(v) for v in vs] for vs in cases])],
                         capture_output=True, text=True, timeout=60, check=True)
    for values, shown in zip(cases, json.loads(out.stdout), strict=True):
        total = sum(values)
        assert sum(Decimal(s) for s in shown) == Decimal("100.00"), (values, shown)
        for v, s in zip(values, shown, strict=True):
            assert abs(Decimal(s) - v * 100 / total) < Decimal("0.01"), (values, shown)
