"""Benchmark your own agent against the classic strategies, on the same orders, with the paper's metrics.

Any of these can be evaluated: a Stable-Baselines3 model (recurrent ones too), a baseline, or a plain callable
that maps a batch of observations to a batch of actions. Here: a hand-written "front-load when the price is
above its recent mean" rule, next to TWAP, VWAP, Almgren-Chriss and the perfect-information Oracle.

    python examples/evaluate_your_agent.py                      # synthetic market
    python examples/evaluate_your_agent.py --data ashare-1min   # real A-share minute bars (../shared/data)

The table prints whole, rewards in basis points (``mean_reward_bps``, as the price advantage: episode rewards are
~1e-4), with a legend of its columns under it.
"""

from __future__ import annotations

import argparse

import numpy as np

from order_exec_gym.evaluation import compare, format_table, reward_in_bps


def sell_into_strength(obs: dict[str, np.ndarray]) -> np.ndarray:
    """Discrete levels (0, 0.5, 1, 1.5, 2) x TWAP: trade faster when the last price is above the lookback mean."""
    price = obs["public"][:, :, 0]  # percent vs. the reference price, zero before the session
    last_vs_mean = price[:, -1] - price.mean(axis=1)
    side = obs["private"][:, 2]  # +1 sell, -1 buy: a buyer wants the opposite
    signal = side * last_vs_mean
    return np.select([signal > 0.1, signal < -0.1], [4, 0], default=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="preset name or saved dataset directory (default: synthetic)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n-orders", type=int, default=None, help="default: every episode of the split once")
    args = parser.parse_args()
    agents = {"my rule": sell_into_strength, "VWAP": "VWAP", "AlmgrenChriss": "AlmgrenChriss", "Oracle": "Oracle"}
    table = compare(agents, data=args.data, split=args.split, n_orders=args.n_orders, progress=True)
    print(format_table(reward_in_bps(table), reference="TWAP"))
    print("Oracle: perfect information (it sees the future): an upper bound, not a strategy")


if __name__ == "__main__":
    main()
