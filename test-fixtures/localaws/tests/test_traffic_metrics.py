"""The traffic model through the server, read with boto3's CloudWatch client (JSON protocol; the
Rust SDK's query protocol is covered by test-fixtures/support/tests/support/traffic.rs): the
published periods, GetMetricStatistics with extended statistics, GetMetricData, listener weights
over time, ELB 5xx for a group with no healthy target, and which metrics stay moto's."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from conftest import AMI_ID, LocalAws, make_fleet, target_states, wait_for

NAMESPACE = "AWS/ApplicationELB"


@dataclass
class Balancer:
    lb_arn: str
    listener_arn: str
    blue: str
    green: str


def make_balancer(aws: LocalAws, weights: tuple[int, int], healthy: tuple[bool, bool] = (True, True)) -> Balancer:
    fleet = make_fleet(aws, groups=2)
    elbv2, ec2 = aws.client("elbv2"), aws.client("ec2")
    lb_arn = elbv2.create_load_balancer(Name="web", Subnets=fleet.subnet_ids)["LoadBalancers"][0]["LoadBalancerArn"]
    blue, green = fleet.target_group_arns
    listener_arn = elbv2.create_listener(
        LoadBalancerArn=lb_arn, Protocol="HTTP", Port=80,
        DefaultActions=[forward(blue, green, weights)],
    )["Listeners"][0]["ListenerArn"]
    for arn, wanted in zip((blue, green), healthy):
        if wanted:
            instance_id = ec2.run_instances(ImageId=AMI_ID, MinCount=1, MaxCount=1,
                                            SubnetId=fleet.subnet_ids[0])["Instances"][0]["InstanceId"]
            elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
            wait_for(lambda arn=arn, i=instance_id: target_states(aws, arn)[i][0] == "healthy", 5, "healthy")
    return Balancer(lb_arn, listener_arn, blue, green)


def forward(blue: str, green: str, weights: tuple[int, int]) -> dict[str, Any]:
    return {"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue, "Weight": weights[0]}, {"TargetGroupArn": green, "Weight": weights[1]}]}}


def dimensions(balancer: Balancer, target_group_arn: str) -> list[dict[str, str]]:
    return [{"Name": "TargetGroup", "Value": target_group_arn.split(":", 5)[5]},
            {"Name": "LoadBalancer", "Value": balancer.lb_arn.split(":", 5)[5].removeprefix("loadbalancer/")}]


def periods(aws: LocalAws, target_group_arn: str) -> list[dict[str, Any]]:
    return aws.control("GET", f"/zdd/traffic/{urllib.parse.quote(target_group_arn, safe='')}/periods")["periods"]


def wait_for_periods(aws: LocalAws, target_group_arn: str, count: int, after_ms: int = 0) -> list[dict[str, Any]]:
    return wait_for(lambda: (ps := [p for p in periods(aws, target_group_arn) if p["start_ms"] >= after_ms])
                    and len(ps) >= count and ps, 20, f"{count} published periods")


def timing(aws: LocalAws) -> tuple[int, int]:
    answer = aws.control("GET", "/zdd/traffic")
    return answer["period_ms"], answer["publish_delay_ms"]


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def ms_of(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def test_get_metric_statistics_answers_the_published_periods_with_percentiles(traffic_aws: LocalAws) -> None:
    aws = traffic_aws
    balancer = make_balancer(aws, (80, 20))
    slow = {"target_5xx_ratio": 0.1, "latency_ms": {"p50": 100, "p90": 200, "p99": 400}}
    aws.control("POST", "/zdd/traffic", {"listener_arn": balancer.listener_arn, "requests_per_second": 50,
                                         "seed": 5, "target_groups": {balancer.green: slow}})
    green = wait_for_periods(aws, balancer.green, 2)
    queried_ms = round(time.time() * 1000)
    period_ms, delay_ms = timing(aws)
    assert (period_ms, delay_ms) == (round(60_000 * aws.time_scale), round(90_000 * aws.time_scale))
    cloudwatch = aws.client("cloudwatch")
    answer = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="RequestCount", Dimensions=dimensions(balancer, balancer.green),
        StartTime=at(green[0]["start_ms"]), EndTime=at(queried_ms + 60_000), Period=60, Statistics=["Sum"],
    )
    points = sorted(answer["Datapoints"], key=lambda p: p["Timestamp"])
    published = periods(aws, balancer.green)
    # Exactly the periods published so far: none still open or waiting for the delay.
    assert [(ms_of(p["Timestamp"]), p["Sum"]) for p in points][:len(green)] == \
        [(p["start_ms"], p["requests"]) for p in green]
    assert all(ms_of(p["Timestamp"]) % period_ms == 0 for p in points)
    assert all(ms_of(p["Timestamp"]) + period_ms + delay_ms <= round(time.time() * 1000) for p in points)
    assert len(points) <= len(published)

    latency = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="TargetResponseTime", Dimensions=dimensions(balancer, balancer.green),
        StartTime=at(green[1]["start_ms"]), EndTime=at(green[1]["end_ms"]), Period=60,
        Statistics=["Average", "SampleCount"], ExtendedStatistics=["p50", "p90", "p99"],
    )
    [point] = latency["Datapoints"]
    assert point["ExtendedStatistics"] == pytest.approx({"p50": 0.1, "p90": 0.2, "p99": 0.4})
    assert point["Unit"] == "Seconds" and point["SampleCount"] == green[1]["served"]
    assert 0.1 < point["Average"] < 0.4
    # The weights: the full second period splits 80/20 (50 rps × 60 s = 3000 requests).
    blue = wait_for_periods(aws, balancer.blue, 2)
    assert blue[1]["start_ms"] == green[1]["start_ms"]
    assert 2200 <= blue[1]["requests"] <= 2600 and 450 <= green[1]["requests"] <= 750
    assert 0 < green[1]["target_5xx"] < green[1]["requests"] and "target_5xx" in green[1]


def test_get_metric_data_reads_both_groups_in_one_call_and_follows_weight_changes(traffic_aws: LocalAws) -> None:
    aws = traffic_aws
    balancer = make_balancer(aws, (100, 0))
    aws.control("POST", "/zdd/traffic", {"listener_arn": balancer.listener_arn, "requests_per_second": 20, "seed": 1})
    wait_for_periods(aws, balancer.blue, 1)
    aws.client("elbv2").modify_listener(ListenerArn=balancer.listener_arn,
                                        DefaultActions=[forward(balancer.blue, balancer.green, (0, 100))])
    switched_ms = round(time.time() * 1000)
    period_ms, _ = timing(aws)
    first_full = switched_ms // period_ms * period_ms + period_ms
    wait_for_periods(aws, balancer.green, 1, after_ms=first_full)

    def query(query_id: str, arn: str, metric: str, stat: str) -> dict[str, Any]:
        return {"Id": query_id, "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric,
                                                          "Dimensions": dimensions(balancer, arn)},
                                               "Period": 60, "Stat": stat}}

    answer = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[query("blue", balancer.blue, "RequestCount", "Sum"),
                           query("green", balancer.green, "RequestCount", "Sum"),
                           query("green_p99", balancer.green, "TargetResponseTime", "p99")],
        StartTime=at(switched_ms - 30_000), EndTime=at(switched_ms + 30_000), ScanBy="TimestampAscending",
    )
    results = {r["Id"]: dict(zip((ms_of(t) for t in r["Timestamps"]), r["Values"]))
               for r in answer["MetricDataResults"]}
    assert first_full in results["green"] and first_full not in results["blue"]
    assert 1000 <= results["green"][first_full] <= 1400  # 20 rps × 60 s, all on green
    assert all(start < first_full for start in results["blue"]) and results["blue"]
    assert results["green_p99"][first_full] == pytest.approx(0.12)  # the default profile's p99
    assert [r["Label"] for r in answer["MetricDataResults"]] == [
        "RequestCount Sum", "RequestCount Sum", "TargetResponseTime p99"]


def test_a_group_with_no_healthy_target_answers_as_elb_5xx(traffic_aws: LocalAws) -> None:
    aws = traffic_aws
    balancer = make_balancer(aws, (50, 50), healthy=(True, False))
    aws.control("POST", "/zdd/traffic", {"listener_arn": balancer.listener_arn, "requests_per_second": 20, "seed": 2})
    green = wait_for_periods(aws, balancer.green, 1)
    assert all(p["elb_5xx"] == p["requests"] > 0 and p["served"] == 0 and p["latency_ms"] is None for p in green)
    cloudwatch = aws.client("cloudwatch")

    def sums(metric: str) -> list[float]:
        points = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE, MetricName=metric, Dimensions=dimensions(balancer, balancer.green),
            StartTime=at(green[0]["start_ms"]), EndTime=at(green[0]["end_ms"]), Period=60,
            Statistics=["Sum"])["Datapoints"]
        return [p["Sum"] for p in points]

    assert sums("HTTPCode_ELB_5XX_Count") == sums("RequestCount") == [green[0]["requests"]]
    assert sums("TargetResponseTime") == [] and sums("HTTPCode_Target_5XX_Count") == []
    blue = wait_for_periods(aws, balancer.blue, 1)
    assert blue[0]["elb_5xx"] == 0 and blue[0]["served"] == blue[0]["requests"]


def test_other_metrics_and_groups_stay_motos(traffic_aws: LocalAws) -> None:
    aws = traffic_aws
    balancer = make_balancer(aws, (100, 0), healthy=(False, False))
    aws.control("POST", "/zdd/traffic", {"target_group_arn": balancer.blue, "requests_per_second": 5})
    cloudwatch = aws.client("cloudwatch")
    now = datetime.now(timezone.utc)
    cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[
        {"MetricName": "RequestCount", "Value": 7, "Timestamp": now, "Dimensions": [{"Name": "Custom", "Value": "x"}]},
    ])
    answer = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="RequestCount", Dimensions=[{"Name": "Custom", "Value": "x"}],
        StartTime=now - timedelta(minutes=1), EndTime=now + timedelta(minutes=1), Period=60, Statistics=["Sum"])
    assert [p["Sum"] for p in answer["Datapoints"]] == [7.0]
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
            "Namespace": NAMESPACE, "MetricName": "RequestCount", "Dimensions": [{"Name": "Custom", "Value": "x"}]},
            "Period": 60, "Stat": "Sum"}}],
        StartTime=now - timedelta(minutes=1), EndTime=now + timedelta(minutes=1))
    assert data["MetricDataResults"][0]["Values"] == [7.0]


def test_the_control_endpoint_refuses_what_it_cannot_model(traffic_aws: LocalAws) -> None:
    aws = traffic_aws
    def refused(body: Any) -> str:
        with pytest.raises(urllib.error.HTTPError) as error:
            aws.control("POST", "/zdd/traffic", body)
        assert error.value.code == 400
        return error.value.read().decode()

    assert "no listener" in refused({"listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                     "listener/app/x/1/2", "requests_per_second": 1})
    assert "requests_per_second" in refused({"listener_arn": "x", "requests_per_second": "many"})
    balancer = make_balancer(aws, (100, 0), healthy=(False, False))
    unattached = aws.client("elbv2").create_target_group(
        Name="loose", Protocol="HTTP", Port=80,
        VpcId=aws.client("ec2").describe_vpcs()["Vpcs"][-1]["VpcId"])["TargetGroups"][0]["TargetGroupArn"]
    assert "load_balancer_arn" in refused({"target_group_arn": unattached, "requests_per_second": 1})
    answer = aws.control("GET", f"/zdd/traffic/{urllib.parse.quote(balancer.green, safe='')}/periods")
    assert answer == {"target_group_arn": balancer.green, "known": False, "periods": []}


def test_a_reset_forgets_the_traffic_and_a_scoped_delete_stops_one_source(traffic_aws: LocalAws) -> None:
    aws = traffic_aws
    first = make_balancer(aws, (100, 0), healthy=(False, False))
    aws.control("POST", "/zdd/traffic", {"listener_arn": first.listener_arn, "requests_per_second": 5})
    aws.control("POST", "/zdd/traffic", {"target_group_arn": first.green, "requests_per_second": 5})
    stopped = aws.control("DELETE", "/zdd/traffic?source=" + urllib.parse.quote(first.listener_arn, safe=""))
    assert stopped == {"stopped": True}
    assert [s.get("target_group_arn") for s in aws.control("GET", "/zdd/traffic")["sources"]] == [first.green]

    def known(arn: str) -> bool:
        return aws.control("GET", f"/zdd/traffic/{urllib.parse.quote(arn, safe='')}/periods")["known"]

    assert known(first.blue) and known(first.green), "a stopped source's groups keep their metrics"
    urllib.request.urlopen(urllib.request.Request(aws.endpoint + "/moto-api/reset", method="POST"), timeout=10)
    assert aws.control("GET", "/zdd/traffic")["sources"] == []
    assert not known(first.blue) and not known(first.green)
