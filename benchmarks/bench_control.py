"""Environment steps per second of each control rule on CartPole-v1 at 4-128-2, against the bare work.

In one run it times, per rule, whole episodes of the vectorised engine (the rule's passes,
its eligibility and its update; the same seeded episodes for every repeat) and reports
environment steps per second, then the same per time step against two bare references:
one NumPy forward pass of the network at batch 1, and one ``env.step`` of CartPole-v1. The spiking
rule's time includes its critic (online TD(lambda) on 1,296 Fourier features per time step).
Then, per rule, K seeds (K = ``--lockstep``) run one after the other and the same K seeds in
lockstep (:mod:`synapse_sim.lockstep`: their episodes batched, one stacked product per layer),
which gives the same results, bit for bit: environment steps per second both ways and the ratio.

    .venv/bin/python benchmarks/bench_control.py [--episodes 200] [--threads N] [--lockstep 4 8]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from common import best_of, limit_threads

LAYERS = [4, 128, 2]
RULES = ("reinforce", "nrl", "rmhl", "spiking")  # spiking: K = 1 population, its Fourier critic (1,296 features)


def bare_forward(weights, x) -> None:
    h = x
    for layer, w in enumerate(weights):
        a = np.append(h, 1.0) @ w
        h = a if layer == len(weights) - 1 else np.maximum(a, 0.1 * a)


def env_steps(env, n: int) -> None:
    """``n`` steps of alternating actions, resetting at each episode's end."""
    env.reset(seed=0)
    for t in range(n):
        _, _, terminated, truncated, _ = env.step(t % 2)
        if terminated or truncated:
            env.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--threads", type=int, help="BLAS threads (default: the library's own choice)")
    parser.add_argument("--lockstep", type=int, nargs="*", default=[4, 8], help="K seeds in lockstep (default 4 8)")
    args = parser.parse_args()
    limit_threads(args.threads)
    import gymnasium

    from synapse_sim import VectorEngine
    from synapse_sim.studies.control import base_scenario

    env = gymnasium.make("CartPole-v1")
    env_step = best_of(lambda: env_steps(env, 2000), 3, 5) / 2000
    rng = np.random.default_rng(0)
    weights = [rng.uniform(-0.2, 0.2, (a + 1, b)) for a, b in itertools.pairwise(LAYERS)]
    x = rng.standard_normal(LAYERS[0])
    forward = best_of(lambda: bare_forward(weights, x), 3, 20000)
    print(f"CartPole-v1, {'-'.join(map(str, LAYERS))}, float64, leaky ReLU; {args.episodes} episodes per rule")
    print(f"bare forward pass at batch 1: {forward * 1e6:.1f} us; env.step: {env_step * 1e6:.1f} us")
    print(f"{'rule':<11}{'env steps/s':>13}{'us/step':>9}{'/ forward':>11}{'/ (forward + env.step)':>24}")
    for rule in RULES:
        scenario = base_scenario("CartPole-v1").with_overrides({"run.method": rule, "network.layers": LAYERS})
        best = np.inf
        for _ in range(3):
            engine = VectorEngine(scenario)
            start = time.perf_counter()
            steps = sum(result.records["episode_length"] for result in engine.run(args.episodes))
            best = min(best, (time.perf_counter() - start) / steps)
        print(
            f"{rule:<11}{1 / best:>13,.0f}{best * 1e6:>9.1f}{best / forward:>11.1f}{best / (forward + env_step):>24.1f}"
        )

    lockstep_rows(args.lockstep, args.episodes)


def lockstep_rows(sizes, episodes: int) -> None:
    from synapse_sim import VectorEngine
    from synapse_sim.lockstep import together
    from synapse_sim.studies.control import base_scenario

    if not sizes:
        return
    print(f"\nK seeds one after the other vs. in lockstep ({episodes} episodes each, best of 2)")
    print(f"{'rule':<11}{'K':>4}{'alone steps/s':>15}{'lockstep steps/s':>18}{'ratio':>7}")
    for rule in RULES:
        for k in sizes:
            scenarios = [
                base_scenario("CartPole-v1").with_overrides(
                    {"run.method": rule, "network.layers": LAYERS, "run.seed": s}
                )
                for s in range(k)
            ]
            alone = together_time = np.inf
            for _ in range(2):
                engines = [VectorEngine(s) for s in scenarios]
                start = time.perf_counter()
                steps = sum(r.records["episode_length"] for e in engines for r in e.run(episodes))
                alone = min(alone, time.perf_counter() - start)
                engines = [VectorEngine(s) for s in scenarios]
                start = time.perf_counter()
                outcomes = together([lambda e=e: e.run(episodes) for e in engines])
                together_time = min(together_time, time.perf_counter() - start)
                assert steps == sum(r.records["episode_length"] for results in outcomes for r in results)
            print(
                f"{rule:<11}{k:>4}{steps / alone:>15,.0f}{steps / together_time:>18,.0f}{alone / together_time:>7.2f}"
            )


if __name__ == "__main__":
    main()
