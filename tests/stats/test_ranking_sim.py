"""Coverage of the Bradley-Terry bootstrap intervals when battles share prompts.

Each simulated leaderboard has 8 contestants and 80 prompts with 20 battles each (random pairs,
random sides). A prompt adds its own effect ``u_i ~ N(0, 1)`` to every contestant's strength,
shared by all the battles of that prompt, so battles of one prompt are correlated.

The estimand is the population Bradley-Terry rating: the BT fit to the infinite-prompt win
probabilities ``E_u sigma(theta_i - theta_j + u_i - u_j)`` (Gauss-Hermite quadrature, equal pair
frequencies), mean-centred. It is the true ``theta`` shrunk by the usual random-effect
attenuation of the logit; it is what the pooled fit converges to as prompts grow.

Coverage is counted per contestant rating: the share of (leaderboard, contestant) intervals
that contain that contestant's population rating. Three intervals are compared:

* prompt-clustered percentile bootstrap, 95% (``bradley_terry(prompts=..., cluster=True)``);
* battle-resampling percentile bootstrap, 95%;
* arena-hard-auto's interval: battle bootstrap, 100 rounds, a 90% interval, every game
  (both position-swapped games of a prompt too) resampled on its own, read as if 95%.

``bench/ranking_coverage.py`` runs 1,000 leaderboards with 1,000 replicates; this test runs
1,000 leaderboards with 200 replicates, in about 20 s.
"""

from __future__ import annotations

import math
import time

import numpy as np

from evalstack.stats.ranking import ELO_CENTRE, ELO_PER_THETA, _Battles, _fit_counts, bradley_terry

K = 8
TRUE_THETA = np.linspace(-0.9, 0.9, K)
PROMPT_SD = 1.0
NAMES = np.array([f"m{i}" for i in range(K)])


def population_theta(theta: np.ndarray = TRUE_THETA, sd: float = PROMPT_SD) -> np.ndarray:
    """The BT fit to the prompt-averaged win probabilities, mean zero."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    i, j = np.triu_indices(theta.size, 1)
    z = math.sqrt(2.0) * sd * nodes  # u_i - u_j ~ N(0, 2 sd^2)
    p = (weights / (1 + np.exp(-(theta[i] - theta[j])[:, None] - z))).sum(axis=1)
    cells = _Battles.build(NAMES[i].tolist(), NAMES[j].tolist(), np.ones(i.size)).cells()
    counts = np.zeros((1, cells.n_cells))
    counts[0, 0::3], counts[0, 2::3] = 1e6 * p, 1e6 * (1 - p)  # pairs in (lo, hi) order
    return _fit_counts(counts, cells, theta.size, "half", 0.0)[0][0]


def leaderboard(rng: np.random.Generator, n_prompts: int = 80, per_prompt: int = 20
                ) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """One simulated leaderboard's battles: a, b, outcome, prompt."""
    n = n_prompts * per_prompt
    prompt = np.repeat(np.arange(n_prompts), per_prompt)
    u = rng.normal(0.0, PROMPT_SD, (n_prompts, K))
    ia = rng.integers(0, K, n)
    ib = (ia + rng.integers(1, K, n)) % K
    eta = TRUE_THETA[ia] - TRUE_THETA[ib] + u[prompt, ia] - u[prompt, ib]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.float64)
    return NAMES[ia].tolist(), NAMES[ib].tolist(), y, prompt


def simulate(n_leaderboards: int, n_boot: int, seed: int = 2024) -> dict[str, float]:
    """Coverage of the three intervals over ``n_leaderboards`` simulated leaderboards."""
    truth = dict(zip(NAMES.tolist(), ELO_CENTRE + ELO_PER_THETA * population_theta(),
                     strict=True))
    rng = np.random.default_rng(seed)
    hits = {"clustered": 0, "battle": 0, "arena_hard": 0}
    width = {"clustered": 0.0, "battle": 0.0, "arena_hard": 0.0}
    for _ in range(n_leaderboards):
        a, b, y, prompt = leaderboard(rng)
        fits = {
            "clustered": bradley_terry(a, b, y, prompts=prompt, n_boot=n_boot, seed=rng),
            "battle": bradley_terry(a, b, y, prompts=prompt, n_boot=n_boot, cluster=False,
                                    seed=rng),
            "arena_hard": bradley_terry(a, b, y, n_boot=100, confidence=0.90, seed=rng),
        }
        for kind, fit in fits.items():
            assert fit.intervals is not None
            for name, (lo, hi) in fit.intervals.items():
                hits[kind] += lo <= truth[name] <= hi
                width[kind] += hi - lo
    total = n_leaderboards * K
    out = {kind: hits[kind] / total for kind in hits}
    out.update({f"{kind}_width": width[kind] / total for kind in width})
    return out


def test_population_theta_is_the_attenuated_truth() -> None:
    pop = population_theta()
    assert abs(pop.mean()) < 1e-12
    assert np.all(np.diff(pop) > 0)
    assert 0.7 < pop[-1] / TRUE_THETA[-1] < 1.0  # shrunk by the prompt effects
    np.testing.assert_allclose(population_theta(sd=0.0), TRUE_THETA, atol=1e-9)


def test_prompt_clustered_intervals_cover_95_percent() -> None:
    start = time.perf_counter()
    n_leaderboards = 1000
    cov = simulate(n_leaderboards, n_boot=200)
    print(
        f"\n{n_leaderboards} leaderboards x {K} ratings, B=200: coverage clustered "
        f"{cov['clustered']:.3f} (mean width {cov['clustered_width']:.1f} Elo), battle "
        f"{cov['battle']:.3f} ({cov['battle_width']:.1f}), arena-hard-style 90%/100 rounds "
        f"{cov['arena_hard']:.3f} ({cov['arena_hard_width']:.1f}); "
        f"{time.perf_counter() - start:.1f} s"
    )
    # Monte Carlo sd of a coverage share over 1,000 x 8 correlated ratings is about 0.003.
    assert 0.92 <= cov["clustered"] <= 0.975
    assert cov["battle"] < cov["clustered"] - 0.05
    assert cov["arena_hard"] < cov["battle"]
