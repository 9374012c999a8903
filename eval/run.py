"""`make eval`: accuracy of Sherlog's root-cause ranking, every dataset in one run.

1. Scenario cases from the chaos simulator (every fault kind, several targets and
   seeds), each simulated, ingested through core's ingestion API and asked through
   the engine: AC@1 / AC@3 per fault kind and a calibration table.
2. The RCD Sock Shop dataset (50 real fault cases, metrics only): AC@1, AC@3,
   Avg@5 per fault type, with a random ranking measured in the same run.

Results are printed and written under bench-results/.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["scenarios", "sockshop"], help="run one dataset only")
    args = ap.parse_args(argv)
    if args.only in (None, "scenarios"):
        from eval import scenarios

        print("== chaos scenario cases ==", flush=True)
        scenarios.main([])
    if args.only in (None, "sockshop"):
        from eval import sockshop

        print("\n== RCD Sock Shop (metrics only) ==", flush=True)
        sockshop.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
