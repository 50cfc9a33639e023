"""Bradley-Terry fit + 1,000 prompt-clustered bootstraps on 1M battles, against FastChat's loop.

Generates 1,000,000 battles among 20 contestants over 50,000 prompts (20 battles each, per-prompt
contestant effects, 10% ties) and times, in one run:

(a) ``evalstack.stats.ranking.bradley_terry(..., prompts=..., n_boot=1000)``: the fit on the
    aggregated counts plus 1,000 prompt-clustered replicates in one batched Newton solve;
(b) FastChat's ``get_bootstrap_result`` shape: each round resamples battles and refits
    scikit-learn's ``LogisticRegression(fit_intercept=False, penalty=None, tol=1e-6)`` on one
    row per battle (columns +-log(10); a tie is two rows of weight 1/2, as FastChat's
    ``compute_mle_elo`` duplicates it). Only ``--rounds`` rounds are run (default 5); the
    per-round time is extrapolated to 1,000.

Prints a table with the total time, the time per bootstrap replicate and the ratio, and exits
1 if (a) takes longer than the 10 s target.

    python bench/ranking_bench.py [--rounds 5] [--boot 1000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

K = 20
PROMPTS = 50_000
PER_PROMPT = 20
TIE_RATE = 0.1
TARGET_S = 10.0
SEED = 99


def battles() -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """a, b (names), outcome, prompt, and the integer indices of a and b."""
    rng = np.random.default_rng(SEED)
    n = PROMPTS * PER_PROMPT
    theta = rng.normal(0.0, 0.7, K)
    prompt = np.repeat(np.arange(PROMPTS), PER_PROMPT)
    u = rng.normal(0.0, 0.7, (PROMPTS, K))
    ia = rng.integers(0, K, n)
    ib = (ia + rng.integers(1, K, n)) % K
    p = 1 / (1 + np.exp(-(theta[ia] - theta[ib] + u[prompt, ia] - u[prompt, ib])))
    y = np.where(rng.random(n) < TIE_RATE, 0.5, (rng.random(n) < p).astype(np.float64))
    names = np.array([f"model-{i:02d}" for i in range(K)])
    return names[ia].tolist(), names[ib].tolist(), y, prompt, ia, ib


def fastchat_round(ia: np.ndarray, ib: np.ndarray, y: np.ndarray, rng: np.random.Generator
                   ) -> np.ndarray:
    """One bootstrap round the way FastChat does it: resample battles, refit sklearn."""
    from sklearn.linear_model import LogisticRegression

    idx = rng.integers(0, y.size, y.size)
    a, b, out = ia[idx], ib[idx], y[idx]
    tie = out == 0.5
    rows = np.concatenate([np.arange(out.size), np.flatnonzero(tie)])
    x = np.zeros((rows.size, K))
    x[np.arange(rows.size), a[rows]] = math.log(10)
    x[np.arange(rows.size), b[rows]] = -math.log(10)
    target = np.concatenate([np.where(tie, 1.0, out), np.zeros(int(tie.sum()))])
    weight = np.concatenate([np.where(tie, 0.5, 1.0), np.full(int(tie.sum()), 0.5)])
    # penalty=None, spelt C=inf because scikit-learn 1.8 deprecates the penalty argument.
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-6)
    lr.fit(x, target, sample_weight=weight)
    coef: np.ndarray = 400 * lr.coef_[0] + 1000
    return coef


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="FastChat-style rounds to time")
    parser.add_argument("--boot", type=int, default=1000)
    args = parser.parse_args()

    from evalstack.stats.ranking import bradley_terry

    a, b, y, prompt, ia, ib = battles()
    print(f"{y.size:,} battles, {K} contestants, {PROMPTS:,} prompts, B={args.boot}")

    start = time.perf_counter()
    fit = bradley_terry(a, b, y, prompts=prompt, n_boot=args.boot, seed=1)
    ours = time.perf_counter() - start
    point = time.perf_counter()
    bradley_terry(a, b, y)
    ours_point = time.perf_counter() - point
    assert fit.intervals is not None

    rng = np.random.default_rng(2)
    start = time.perf_counter()
    last = np.zeros(K)
    for _ in range(args.rounds):
        last = fastchat_round(ia, ib, y, rng)
    per_round = (time.perf_counter() - start) / args.rounds
    theirs = per_round * args.boot

    ours_per = (ours - ours_point) / args.boot
    print(f"{'':<48} {'total (s)':>10} {'per replicate (ms)':>19}")
    print(f"{'(a) evalstack fit + clustered bootstrap':<48} {ours:>10.2f} {1e3 * ours_per:>19.2f}")
    print(f"{'    of which the point fit alone':<48} {ours_point:>10.2f}")
    print(f"{'(b) FastChat-style sklearn loop (extrapolated)':<48} {theirs:>10.1f} "
          f"{1e3 * per_round:>19.1f}")
    print(f"ratio (b)/(a): total {theirs / ours:,.0f}x, per replicate {per_round / ours_per:,.0f}x"
          f" ({args.rounds} rounds of (b) timed)")
    top = fit.names[0]
    lo, hi = fit.intervals[top]
    print(f"leader {top}: {fit.elo[top]:.1f} [{lo:.1f}, {hi:.1f}]; one sklearn round gives "
          f"{last.max() - last.mean() + 1000:.1f}")
    if ours > TARGET_S:
        print(f"MISS: (a) took {ours:.1f} s, target {TARGET_S:.0f} s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
