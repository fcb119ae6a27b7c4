# A canary: the new generation goes into the idle target group and the listener's weights
# step 5 → 25 → 50 → 100 %, soaking at each step while CloudWatch alarms and the 5xx ratio
# are checked. A failed gate sends all traffic back to the stable group at once.

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
    alarm_names   = var.alarm_names
    max_5xx_ratio = 0.01
  }
}

output "active_asg_name" {
  value = zdd_rollout.api.active_asg_name
}

output "last_rollout" {
  value = zdd_rollout.api.last_rollout
}
