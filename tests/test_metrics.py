"""Metrics: GLR and its edge cases, the paired bootstrap interval, summarize."""

from __future__ import annotations

import math

import numpy as np
import pytest

from order_exec_gym.metrics import (
    PA_TOLERANCE,
    gain_loss_ratio,
    mean_reward,
    pa_mean,
    pa_std,
    paired_bootstrap_ci,
    summarize,
)


def test_gain_loss_ratio():
    assert gain_loss_ratio(np.array([3.0, 1.0, -1.0, -3.0, -2.0])) == pytest.approx(2.0 / 2.0)
    assert gain_loss_ratio(np.array([4.0, -1.0, -3.0, 0.0])) == pytest.approx(4.0 / 2.0)  # zeros count for neither


@pytest.mark.parametrize(
    ("pa", "expected"),
    [
        ([1.0, 2.0, 0.0], math.inf),  # gains, no losses
        ([-1.0, -2.0, 0.0], 0.0),  # losses, no gains
        ([0.0, 0.0], math.nan),  # neither
        ([], math.nan),  # no orders
        ([PA_TOLERANCE / 2, -PA_TOLERANCE / 2], math.nan),  # floating noise counts as zero
    ],
)
def test_gain_loss_ratio_edge_cases(pa, expected):
    value = gain_loss_ratio(np.array(pa))
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == expected


def test_means_and_std():
    pa = np.array([1.0, 2.0, 6.0])
    assert pa_mean(pa) == 3.0
    assert pa_std(pa) == pytest.approx(np.sqrt(14 / 3))  # population std
    assert pa_std(np.array([5.0])) == 0.0
    assert mean_reward(np.array([0.1, 0.3])) == pytest.approx(0.2)
    assert math.isnan(pa_mean(np.array([]))) and math.isnan(pa_std(np.array([]))) and math.isnan(mean_reward(np.array([])))
    with pytest.raises(ValueError, match="1-D"):
        pa_mean(np.ones((2, 2)))


def test_summarize():
    summary = summarize(np.array([1.0, -1.0, 3.0]), np.array([0.1, 0.2, 0.3]))
    assert summary == {"mean_reward": pytest.approx(0.2), "pa_mean": 1.0, "pa_std": pytest.approx(np.std([1, -1, 3])), "glr": 2.0, "n_orders": 3}
    with pytest.raises(ValueError, match="same orders"):
        summarize(np.ones(3), np.ones(2))


def test_paired_bootstrap_interval():
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 30, 500)
    pa = reference + 2.0 + rng.normal(0, 5, 500)  # paired: the common noise cancels
    diff, low, high = paired_bootstrap_ci(pa, reference, seed=1)
    assert diff == pytest.approx((pa - reference).mean())
    assert low < diff < high
    standard_error = (pa - reference).std() / np.sqrt(500)
    assert high - low == pytest.approx(2 * 1.96 * standard_error, rel=0.15)
    assert (diff, low, high) == paired_bootstrap_ci(pa, reference, seed=1)  # seeded
    assert (low, high) != paired_bootstrap_ci(pa, reference, seed=2)[1:]
    narrow = paired_bootstrap_ci(pa, reference, confidence=0.5, seed=1)
    assert low < narrow[1] < narrow[2] < high


def test_paired_bootstrap_edge_cases():
    assert paired_bootstrap_ci(np.array([3.0]), np.array([1.0])) == (2.0, 2.0, 2.0)  # one order: degenerate
    assert all(math.isnan(v) for v in paired_bootstrap_ci(np.array([]), np.array([])))
    assert paired_bootstrap_ci(np.arange(5.0) + 1.5, np.arange(5.0)) == (1.5, 1.5, 1.5)  # constant difference
    assert paired_bootstrap_ci(np.arange(5.0), np.arange(5.0)) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same orders"):
        paired_bootstrap_ci(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap_ci(np.ones(3), np.ones(3), confidence=1.0)


def test_paired_bootstrap_handles_many_orders_in_bounded_memory():
    rng = np.random.default_rng(0)
    pa = rng.normal(1.0, 10.0, 200_000)
    diff, low, high = paired_bootstrap_ci(pa, np.zeros_like(pa), n_resamples=50)
    assert low < diff < high and high - low < 0.2


def test_cluster_bootstrap_resamples_whole_groups():
    rng = np.random.default_rng(0)
    days = np.repeat(np.arange(10), 200)
    day_effect = rng.normal(0, 5, 10)[days]  # every order of a day moves together
    pa = day_effect + rng.normal(0, 1, len(days))
    _, low, high = paired_bootstrap_ci(pa, np.zeros_like(pa))
    _, cluster_low, cluster_high = paired_bootstrap_ci(pa, np.zeros_like(pa), groups=days)
    assert (cluster_high - cluster_low) > 5 * (high - low)  # 10 independent days, not 2,000 independent orders
    diff, low, high = paired_bootstrap_ci(pa, np.zeros_like(pa), groups=np.zeros(len(pa)))
    assert low == high == diff == pytest.approx(pa.mean())  # one group: nothing to resample
    with pytest.raises(ValueError, match="groups"):
        paired_bootstrap_ci(pa, pa, groups=days[:10])


def test_cluster_bootstrap_with_one_order_per_group_is_the_order_bootstrap():
    pa = np.random.default_rng(1).normal(0, 3, 300)
    assert paired_bootstrap_ci(pa, 0 * pa, seed=4) == paired_bootstrap_ci(pa, 0 * pa, seed=4, groups=np.arange(300))


def test_seed_day_bootstrap_covers_seeds_and_days():
    from order_exec_gym.metrics import seed_day_bootstrap_ci

    rng = np.random.default_rng(0)
    days = np.repeat(np.arange(20), 30)
    day_effect = rng.normal(0, 2.0, 20)[days]
    seed_effect = np.array([[-3.0], [0.5], [4.0]])
    differences = 1.0 + seed_effect + day_effect[None, :] + rng.normal(0, 1, (3, 600))
    mean, low, high = seed_day_bootstrap_ci(differences, days, seed=1)
    assert mean == pytest.approx(differences.mean())
    assert low < mean < high
    _, day_low, day_high = paired_bootstrap_ci(differences.mean(axis=0), np.zeros(600), groups=days, seed=1)
    assert high - low > day_high - day_low  # the seeds' spread widens the interval
    one = seed_day_bootstrap_ci(np.full((1, 4), 2.0), np.zeros(4))
    assert one == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="seeds, orders"):
        seed_day_bootstrap_ci(np.zeros(5), np.zeros(5))


def test_schedule_profile():
    from order_exec_gym.metrics import ONE_STEP_THRESHOLD, schedule_profile

    schedules = np.array([[1.0, 0.0, 0.0], [0.25, 0.25, 0.5], [0.0, ONE_STEP_THRESHOLD, 1 - ONE_STEP_THRESHOLD], [0.5, 0.5, 0.0]])
    profile = schedule_profile(schedules)
    assert profile["one_step_share"] == 0.5  # the first (all at once) and the third (95% in one step)
    np.testing.assert_allclose(profile["step_shares"], schedules.mean(axis=0))
    np.testing.assert_allclose(sum(profile["step_shares"]), 1.0)
    with pytest.raises(ValueError, match="one row per order"):
        schedule_profile(np.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        schedule_profile(np.array([[np.nan, 1.0]]))


def test_shuffled_shares_pa_is_the_mean_over_every_permutation_of_the_schedules():
    from itertools import permutations

    from order_exec_gym.metrics import shuffled_shares_pa

    rng = np.random.default_rng(0)
    schedules, step_pa = rng.dirichlet(np.ones(3), size=4), rng.normal(0, 10, size=(4, 3))
    by_permutation = [np.mean(np.sum(schedules[list(order)] * step_pa, axis=1)) for order in permutations(range(4))]
    assert shuffled_shares_pa(schedules, step_pa) == pytest.approx(np.mean(by_permutation))
    # a timer that sells each order at its best step earns more than its shares at random; a fixed rule, exactly them
    best = np.eye(3)[step_pa.argmax(axis=1)]
    assert np.mean(np.sum(best * step_pa, axis=1)) > shuffled_shares_pa(best, step_pa)
    last = np.eye(3)[[2, 2, 2, 2]]
    assert shuffled_shares_pa(last, step_pa) == pytest.approx(step_pa[:, 2].mean())
    with pytest.raises(ValueError, match="same shape"):
        shuffled_shares_pa(schedules, step_pa[:, :2])
    with pytest.raises(ValueError, match="price at every step"):
        shuffled_shares_pa(schedules, np.where(np.eye(4, 3) > 0, np.nan, step_pa))
