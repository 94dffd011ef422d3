import math

import pytest
from vaekit.train.schedule import LR_SCHEDULES, ema_decay, lr_factor


def test_constant_is_one_after_warmup():
    assert [lr_factor(s, schedule="constant", total_steps=10, warmup_steps=4) for s in range(6)] \
        == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_decay_starts_at_lr_and_ends_at_the_final_fraction(schedule):
    f = [lr_factor(s, schedule=schedule, total_steps=100, final_fraction=0.1) for s in range(101)]
    assert f[0] == 1.0
    assert f[100] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(f, f[1:]))  # never rises
    assert lr_factor(500, schedule=schedule, total_steps=100, final_fraction=0.1) == \
        pytest.approx(0.1)  # past the horizon (a run extended with --epochs) it stays there


def test_cosine_is_half_way_at_mid_run_after_warmup():
    # warm-up 10 steps, then 100 steps of decay: step 60 is half-way through the decay
    assert lr_factor(9, schedule="cosine", total_steps=110, warmup_steps=10) == 1.0
    assert lr_factor(60, schedule="cosine", total_steps=110, warmup_steps=10) == \
        pytest.approx(0.5 * (1 + math.cos(math.pi / 2)))


def test_unknown_schedule_names_the_choices():
    with pytest.raises(ValueError, match="cosine"):
        lr_factor(0, schedule="cos", total_steps=10)
    assert {"constant", "cosine", "linear"} <= set(LR_SCHEDULES)


def test_ema_decay_starts_low_grows_with_the_step_and_stops_at_the_decay_asked_for():
    decays = [ema_decay(step, 0.999) for step in range(0, 20_000, 100)]
    assert decays[0] == 0.1  # the first average is mostly the new weights
    assert all(a <= b for a, b in zip(decays, decays[1:]))
    assert decays[-1] == 0.999
    assert ema_decay(50, 0.5) == 0.5
