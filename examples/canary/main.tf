# A canary: the new generation goes into the idle target group and the listener's weights
# step 5 → 25 → 50 → 100 %, soaking at each step while CloudWatch alarms and the load
# balancer's metrics of both target groups are judged: the 5xx ratio, the p99 latency, both
# against absolute limits and against the stable group over the same complete metric periods,
# with enough requests to count as evidence. A failed gate sends all traffic back to the
# stable group at once. After 100 %, the old generation bakes: detached but running for
# `bake_duration`, so a bake alarm returns the traffic to it without booting anything.

terraform {
  required_providers {
    zdd = {
      source = "zdd/zdd"
    }
  }
}

provider "zdd" {
  region = var.region
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "name" {
  type    = string
  default = "api"
}

variable "launch_template_id" {
  type = string
}

variable "launch_template_version" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "listener_arn" {
  type = string
}

variable "blue_target_group_arn" {
  type = string
}

variable "green_target_group_arn" {
  type = string
}

variable "soak" {
  type    = string
  default = "5m"
}

variable "alarm_names" {
  type    = list(string)
  default = []
}

variable "max_p99_latency" {
  type    = string
  default = "800ms"
}

variable "min_requests" {
  type    = number
  default = 200
}

variable "max_soak" {
  type    = string
  default = "30m"
}

variable "bake_duration" {
  type    = string
  default = "10m"
}

variable "bake_alarm_names" {
  type    = list(string)
  default = []
}

resource "zdd_rollout" "api" {
  name                    = var.name
  launch_template_id      = var.launch_template_id
  launch_template_version = var.launch_template_version
  subnet_ids              = var.subnet_ids
  min_size                = 1
  max_size                = 4
  desired_capacity        = 2
  strategy                = "canary"

  canary = {
    listener_arn            = var.listener_arn
    stable_target_group_arn = var.blue_target_group_arn
    canary_target_group_arn = var.green_target_group_arn
    steps = [
      { weight = 5, soak = var.soak },
      { weight = 25, soak = var.soak },
      { weight = 50, soak = var.soak },
      { weight = 100, soak = "0s" },
    ]
    alarm_names = var.alarm_names

    # Canary analysis: a soak judges only complete CloudWatch periods (published a minute or
    # more after they end), and fails on any limit crossed.
    max_5xx_ratio         = 0.01                # (target + ELB 5xx) / requests
    max_p99_latency       = var.max_p99_latency # TargetResponseTime p99
    max_regression        = 1.5                 # at most 1.5 × stable's p99 and 5xx ratio
    min_requests          = var.min_requests    # fewer requests in a soak is no evidence...
    insufficient_evidence = "extend"            # ...so soak on, up to max_soak, then fail
    max_soak              = var.max_soak
  }

  # After 100 %: the old generation stays detached but running, for an instant rollback.
  bake = {
    duration    = var.bake_duration
    alarm_names = var.bake_alarm_names
  }
}

output "active_asg_name" {
  value = zdd_rollout.api.active_asg_name
}

output "last_rollout" {
  value = zdd_rollout.api.last_rollout
}
