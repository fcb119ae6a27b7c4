"""Pages AWS serves and moto does not: DescribePolicies and DescribeAlarms (MaxRecords 50 by
default, 100 at most, an opaque NextToken), the list alone and through boto3's paginators."""

from __future__ import annotations

import pytest

from conftest import LocalAws, make_fleet
from zdd_localaws.paging import PagingError, page


def test_pages_cover_every_item_once() -> None:
    items = list(range(130))
    first, token = page(items, None, None)
    assert first == items[:50] and token is not None
    second, token = page(items, token, 100)
    assert second == items[50:130] and token is None
    assert page([], None, None) == ([], None)
    assert page(items[:100], None, 100) == (items[:100], None)


@pytest.mark.parametrize("token, size", [("zdd-page-x", 50), ("somebody-elses", 50), (None, 0), (None, 101)])
def test_a_bad_token_or_size_is_refused(token: str | None, size: int) -> None:
    with pytest.raises(PagingError):
        page([1, 2, 3], token, size)


def test_describe_policies_pages_as_on_aws(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    autoscaling = aws.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="paged", MinSize=0, MaxSize=1, DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateId": fleet.launch_template_id}, VPCZoneIdentifier=fleet.subnet_ids[0])
    for n in range(60):
        autoscaling.put_scaling_policy(AutoScalingGroupName="paged", PolicyName=f"p{n:02}",
                                       AdjustmentType="ChangeInCapacity", ScalingAdjustment=1)
    first = autoscaling.describe_policies(AutoScalingGroupName="paged")
    assert len(first["ScalingPolicies"]) == 50 and first["NextToken"]
    pages = autoscaling.get_paginator("describe_policies").paginate(AutoScalingGroupName="paged")
    names = [p["PolicyName"] for answer in pages for p in answer["ScalingPolicies"]]
    assert sorted(names) == [f"p{n:02}" for n in range(60)]


def test_describe_alarms_pages_as_on_aws(aws: LocalAws) -> None:
    cloudwatch = aws.client("cloudwatch")
    names = [f"paged-{n:03}" for n in range(120)]
    for name in names:
        cloudwatch.put_metric_alarm(AlarmName=name, Namespace="AWS/ApplicationELB", MetricName="RequestCount",
                                    Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                    ComparisonOperator="GreaterThanThreshold")
    first = cloudwatch.describe_alarms(AlarmNamePrefix="paged-", MaxRecords=100)
    assert len(first["MetricAlarms"]) == 100 and first["NextToken"]
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNames=names[:100])
    seen = [a["AlarmName"] for answer in pages for a in answer["MetricAlarms"]]
    assert sorted(seen) == names[:100]
