"""Coverage of the Bradley-Terry bootstrap intervals over 1,000 simulated leaderboards.

The simulation is the one in ``tests/stats/test_ranking_sim.py`` (8 contestants, 80 prompts of
20 battles, per-prompt contestant effects with sd 1, the population BT rating as the truth),
run with more bootstrap replicates. It prints, per kind of interval, the share of contestant
ratings covered:

* prompt-clustered percentile bootstrap, 95%;
* battle-resampling percentile bootstrap, 95%;
* arena-hard-auto's interval (battle bootstrap, 100 rounds, 90%), against the 95% it is read as.

    python bench/ranking_coverage.py [--leaderboards 1000] [--boot 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.stats.test_ranking_sim import K, simulate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaderboards", type=int, default=1000)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    cov = simulate(args.leaderboards, args.boot, seed=args.seed)
    mc = (0.95 * 0.05 / args.leaderboards) ** 0.5
    print(f"{args.leaderboards} leaderboards x {K} ratings, B={args.boot} "
          f"({time.perf_counter() - start:.0f} s); Monte Carlo sd about {mc:.3f} "
          "for one contestant, less for the mean")
    print(f"{'interval':<44} {'coverage':>8} {'mean width (Elo)':>17}")
    rows = [("prompt-clustered bootstrap, 95%", "clustered"),
            ("battle bootstrap, 95%", "battle"),
            ("arena-hard-style: battle, 100 rounds, 90%", "arena_hard")]
    for label, kind in rows:
        print(f"{label:<44} {cov[kind]:>8.3f} {cov[kind + '_width']:>17.1f}")
    print(f"arena-hard-style falls {0.95 - cov['arena_hard']:.3f} short of 95%")


if __name__ == "__main__":
    main()
