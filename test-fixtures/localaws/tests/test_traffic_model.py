"""The traffic model alone, on a manual wall clock and a fake load balancer: exact timings,
weights over time, health, seeded replay, latency. No server, no moto."""

from __future__ import annotations

import math

import pytest

from zdd_localaws.traffic import Period, Profile, Source, Timing, TrafficError, TrafficModel, parse_source

LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1"
LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/1/2"
BLUE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1"
GREEN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2"
SCALE = 0.05  # period 3000 ms, delay 4500 ms
T0 = 1_800_000_000_000 // 3000 * 3000  # a period start


class FakeWorld:
    def __init__(self) -> None:
        self.weights = {BLUE: 100, GREEN: 0}
        self.healthy = {BLUE: True, GREEN: True}

    def forward_weights(self, listener_arn: str) -> tuple[str, dict[str, int]] | None:
        return (LB, dict(self.weights)) if listener_arn == LISTENER else None

    def load_balancer_of(self, target_group_arn: str) -> str | None:
        return LB

    def healthy_target_groups(self) -> set[str]:
        return {arn for arn, healthy in self.healthy.items() if healthy}


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture()
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture()
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture()
def model(world: FakeWorld, clock: Clock) -> TrafficModel:
    return TrafficModel(clock, SCALE, world)


def listener_source(rps: float = 20, seed: int = 7, **profiles: Profile) -> Source:
    return Source(rps, seed, listener_arn=LISTENER, profiles={BLUE: profiles.get("blue", Profile()),
                                                              GREEN: profiles.get("green", Profile())})


def run(model: TrafficModel, clock: Clock, until_ms: int, step_ms: int = 20) -> None:
    """Advance as the server's ticker does."""
    while clock.ms < until_ms:
        clock.ms = min(until_ms, clock.ms + step_ms)
        model.advance()


def within(count: int, expected: float, sigmas: float = 5) -> bool:
    return abs(count - expected) <= sigmas * math.sqrt(expected) + 1


def test_timing_matches_the_engines_scaled_metric_timing() -> None:
    # MetricTiming::scaled: AWS duration × scale, rounded half away from zero, in whole ms.
    assert Timing.scaled(0.05) == Timing(3000, 4500)
    assert Timing.scaled(0.025) == Timing(1500, 2250)
    assert Timing.scaled(1.0) == Timing(60_000, 90_000)
    assert Timing.scaled(1e-9) == Timing(1, 1)
    timing = Timing.scaled(0.05)
    assert timing.period_start(T0 + 2999) == T0 and timing.period_start(T0 + 3000) == T0 + 3000


def test_a_period_is_absent_until_its_end_plus_the_publishing_delay(model: TrafficModel, clock: Clock) -> None:
    model.set_source(listener_source())
    run(model, clock, T0 + 3000 + 4499)
    assert model.published(BLUE) == []
    run(model, clock, T0 + 3000 + 4500)
    [period] = model.published(BLUE)
    assert (period.start_ms, period.end_ms, period.published_at_ms) == (T0, T0 + 3000, T0 + 7500)
    # 20 requests per AWS second for one AWS minute.
    assert within(period.requests, 1200)


def test_the_listener_weights_split_the_traffic_over_time(model: TrafficModel, clock: Clock,
                                                          world: FakeWorld) -> None:
    model.set_source(listener_source(rps=100))
    run(model, clock, T0 + 1500)  # half of the first period at 100/0
    model.advance()
    world.weights = {BLUE: 0, GREEN: 100}
    run(model, clock, T0 + 3000)  # the other half at 0/100
    world.weights = {BLUE: 25, GREEN: 75}
    run(model, clock, T0 + 6000 + 4500)
    blue, green = model.published(BLUE), model.published(GREEN)
    assert [p.start_ms for p in blue] == [T0, T0 + 3000] == [p.start_ms for p in green]
    assert within(blue[0].requests, 3000) and within(green[0].requests, 3000)
    assert within(blue[1].requests, 1500) and within(green[1].requests, 4500)


def test_a_group_with_no_healthy_target_answers_its_share_as_elb_5xx(model: TrafficModel, clock: Clock,
                                                                      world: FakeWorld) -> None:
    world.weights = {BLUE: 50, GREEN: 50}
    world.healthy[GREEN] = False
    model.set_source(listener_source(rps=10))
    run(model, clock, T0 + 7500)
    [blue], [green] = model.published(BLUE), model.published(GREEN)
    assert within(blue.requests, 300) and blue.elb_5xx == 0 and blue.served == blue.requests
    assert within(green.requests, 300)
    assert green.elb_5xx == green.requests and green.served == 0 and green.latency_ms is None


def test_counts_replay_from_the_seed(world: FakeWorld) -> None:
    def periods(seed: int, step_ms: int) -> list[tuple[int, int, tuple[float, float, float] | None]]:
        clock = Clock(T0)
        model = TrafficModel(clock, SCALE, world)
        model.set_source(listener_source(seed=seed, blue=Profile(target_5xx_ratio=0.1, latency_noise=0.3)))
        run(model, clock, T0 + 4 * 3000 + 4500, step_ms=step_ms)
        return [(p.requests, p.target_5xx, p.latency_ms) for p in model.published(BLUE)]

    first = periods(7, 17)
    assert len(first) == 4 and all(0 < errors < requests for requests, errors, _ in first)
    # Other tick spacings (1 ms: most unforced advances are left for the next), same seed: the
    # same counts and latencies.
    assert periods(7, 23) == first == periods(7, 1)
    assert [p[0] for p in periods(8, 17)] != [p[0] for p in first]


def test_latency_noise_scales_each_periods_percentiles_together(model: TrafficModel, clock: Clock) -> None:
    quiet = Profile(latency_ms=(40, 80, 120))
    noisy = Profile(latency_ms=(40, 80, 120), latency_noise=0.3)
    model.set_source(listener_source(blue=noisy))
    model.set_source(Source(10, 3, target_group_arn=GREEN, load_balancer_arn=LB, profiles={GREEN: quiet}))
    run(model, clock, T0 + 5 * 3000 + 4500)
    quiet_periods = model.published(GREEN)
    assert len(quiet_periods) == 5
    assert all(p.latency_ms == pytest.approx((40, 80, 120)) for p in quiet_periods)
    noisy_periods = model.published(BLUE)
    factors = [p.latency_ms[0] / 40 for p in noisy_periods]
    assert len(set(factors)) == len(factors) == 5, "one noise draw per period"
    for p, factor in zip(noisy_periods, factors):
        assert p.latency_ms == pytest.approx((40 * factor, 80 * factor, 120 * factor))


def test_percentiles_are_exact_at_the_profile_and_monotone_between() -> None:
    period = Period(BLUE, LB, T0, T0 + 3000, T0 + 7500, 100, 0, 0, 100, (40.0, 80.0, 200.0))
    assert [period.percentile_ms(q) for q in (50, 90, 99)] == pytest.approx([40, 80, 200])
    values = [period.percentile_ms(q) for q in (1, 10, 50, 75, 90, 95, 99, 99.9)]
    assert values == sorted(values) and values[0] < 40 and values[-1] > 200
    assert 40 < period.average_latency_ms < 200


def test_no_requests_no_period(model: TrafficModel, clock: Clock, world: FakeWorld) -> None:
    world.weights = {BLUE: 100, GREEN: 0}
    model.set_source(listener_source(rps=0))
    run(model, clock, T0 + 3 * 3000)
    model.set_source(listener_source(rps=5))
    run(model, clock, T0 + 4 * 3000 + 4500)
    assert [p.start_ms for p in model.published(BLUE)] == [T0 + 3 * 3000]
    assert model.published(GREEN) == [] and model.knows(GREEN), "a weight-0 group is the model's, with no data"


def test_a_stopped_source_keeps_what_it_published(model: TrafficModel, clock: Clock) -> None:
    model.set_source(listener_source())
    run(model, clock, T0 + 3000)
    assert model.stop_source(LISTENER) and not model.stop_source(LISTENER)
    run(model, clock, T0 + 4 * 3000 + 4500)
    assert [p.start_ms for p in model.published(BLUE)] == [T0]


@pytest.mark.parametrize("body, message", [
    ({"requests_per_second": 1}, "exactly one of"),
    ({"listener_arn": LISTENER, "target_group_arn": BLUE, "requests_per_second": 1}, "exactly one of"),
    ({"listener_arn": LISTENER, "requests_per_second": -1}, "requests_per_second"),
    ({"listener_arn": LISTENER, "requests_per_second": 1, "seed": "x"}, "seed"),
    ({"target_group_arn": BLUE, "requests_per_second": 1, "target_5xx_ratio": 0.7, "elb_5xx_ratio": 0.5}, "ratios"),
    ({"target_group_arn": BLUE, "requests_per_second": 1, "latency_ms": {"p50": 90, "p90": 80, "p99": 100}},
     "p50 <= p90"),
    ({"listener_arn": LISTENER, "requests_per_second": 1, "rate": 3}, "unknown"),
])
def test_a_bad_body_is_refused_with_the_reason(body: dict, message: str) -> None:
    with pytest.raises(TrafficError, match=message):
        parse_source(body)
