# A blue/green rollout with zdd: a new Auto Scaling group per generation, attached to the
# target group, healthy in the load balancer's own eyes before the old group is detached,
# drained for the full deregistration delay and only then deleted.
#
# Bump launch_template_version and apply again to roll out. `make demo` applies this against the
# local AWS (see README.md).

terraform {
  required_providers {
    zdd = {
      source = "zdd/zdd"
    }
  }
}

provider "zdd" {
  region = var.region

  # Empty strings mean "not set": the standard AWS endpoints (or AWS_ENDPOINT_URL).
  endpoints = {
    autoscaling = var.aws_endpoint == "" ? null : var.aws_endpoint
    elbv2       = var.aws_endpoint == "" ? null : var.aws_endpoint
    ec2         = var.aws_endpoint == "" ? null : var.aws_endpoint
    cloudwatch  = var.aws_endpoint == "" ? null : var.aws_endpoint
  }
}

resource "zdd_rollout" "web" {
  name                    = var.name
  launch_template_id      = var.launch_template_id
  launch_template_version = var.launch_template_version
  subnet_ids              = var.subnet_ids
  target_group_arns       = var.target_group_arns
  min_size                = var.min_size
  max_size                = var.max_size
  desired_capacity        = var.desired_capacity
  strategy                = "blue_green"
  min_healthy_percent     = 100
  health_timeout          = var.health_timeout
  rollback_on_failure     = true

  tags = {
    example = "basic"
  }

  timeouts {
    create = "30m"
    update = "60m"
    delete = "20m"
  }
}
