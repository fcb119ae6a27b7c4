"""Fixtures: one zdd_localaws server per test session (a real child process, as the Rust tests
start it), reset before every test, and boto3 clients pointed at it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

LOCALAWS_DIR = Path(__file__).resolve().parents[1]
# `make test` runs pytest from the repository root; the model tests import the package directly.
sys.path.insert(0, str(LOCALAWS_DIR))
# Small enough to keep the suite fast, large enough that a loaded 2-core machine still observes
# every intermediate state: a 20 s AWS period lasts 0.5 s here.
TIME_SCALE = 0.025
# The traffic tests wait for published metric periods (60 s + a 90 s delay on AWS): 0.6 s +
# 0.9 s here.
TRAFFIC_TIME_SCALE = 0.01
AMI_ID = "ami-12c6146b"  # one of moto's built-in AMIs


@dataclass
class LocalAws:
    endpoint: str
    time_scale: float
    process: subprocess.Popen[bytes]
    clients: dict[str, Any] = field(default_factory=dict)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.endpoint + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def events(self, **match: Any) -> list[dict[str, Any]]:
        events = self.control("GET", "/zdd/events")["events"]
        return [e for e in events if all(e.get(k) == v for k, v in match.items())]

    def client(self, service: str) -> Any:
        # Creating a boto3 client costs tens of milliseconds: one per service per session.
        if service not in self.clients:
            self.clients[service] = self._new_client(service)
        return self.clients[service]

    def _new_client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


def start_server(*extra_args: str, time_scale: float = TIME_SCALE) -> Any:
    env = dict(os.environ, PYTHONPATH=str(LOCALAWS_DIR))
    env.pop("ZDD_LOCALAWS_STRICT_ASG_DELETE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "zdd_localaws", "--port", "0", "--time-scale", str(time_scale), *extra_args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    assert line.startswith("ZDD_LOCALAWS_READY http://127.0.0.1:"), f"unexpected first line {line!r}"
    aws = LocalAws(line.split()[1], time_scale, process)
    yield aws
    assert process.stdin is not None
    process.stdin.close()  # EOF on stdin is the shutdown signal
    assert process.wait(timeout=10) == 0


@pytest.fixture(scope="session")
def server() -> Any:
    yield from start_server()


@pytest.fixture(scope="session")
def strict_server() -> Any:
    yield from start_server("--strict-asg-delete")


@pytest.fixture(scope="session")
def traffic_server() -> Any:
    yield from start_server(time_scale=TRAFFIC_TIME_SCALE)


@pytest.fixture()
def traffic_aws(traffic_server: LocalAws) -> LocalAws:
    traffic_server.control("POST", "/zdd/reset")
    return traffic_server


@pytest.fixture()
def aws(server: LocalAws) -> LocalAws:
    server.control("POST", "/zdd/reset")
    return server


@pytest.fixture()
def strict_aws(strict_server: LocalAws) -> LocalAws:
    strict_server.control("POST", "/zdd/reset")
    return strict_server


@dataclass
class Fleet:
    """A VPC, a launch template and target groups with known timings."""

    subnet_ids: list[str]
    launch_template_id: str
    target_group_arns: list[str]


def make_fleet(aws: LocalAws, *, interval: int = 10, healthy_threshold: int = 2, delay: int = 20,
               groups: int = 1) -> Fleet:
    ec2 = aws.client("ec2")
    elbv2 = aws.client("elbv2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    template_id = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": AMI_ID, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    arns = []
    for n in range(groups):
        arn = elbv2.create_target_group(
            Name=f"tg-{n}", Protocol="HTTP", Port=80, VpcId=vpc_id, HealthCheckPath="/health",
            HealthCheckIntervalSeconds=interval, HealthyThresholdCount=healthy_threshold,
            Matcher={"HttpCode": "200"},
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.modify_target_group_attributes(
            TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}]
        )
        arns.append(arn)
    return Fleet(subnet_ids, template_id, arns)


def target_states(aws: LocalAws, target_group_arn: str) -> dict[str, tuple[str, str | None]]:
    descriptions = aws.client("elbv2").describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason")) for d in descriptions}


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
