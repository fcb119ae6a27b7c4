# A rolling update: the new generation grows batch by batch while the old one shrinks,
# never below min_healthy_percent of desired_capacity healthy in the load balancer.
#
#   terraform apply -var launch_template_id=lt-0abc -var launch_template_version=7 \
#     -var 'subnet_ids=["subnet-a","subnet-b"]' -var target_group_arn=arn:aws:elasticloadbalancing:...
#
# Bump launch_template_version and apply again to roll out.

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
  default = "web"
}

variable "launch_template_id" {
  type = string
}

variable "launch_template_version" {
  type        = string
  description = "A version number; $Latest and $Default are refused."
}

variable "subnet_ids" {
  type = list(string)
}

variable "target_group_arn" {
  type = string
}

variable "desired_capacity" {
  type    = number
  default = 3
}

resource "zdd_rollout" "web" {
  name                    = var.name
  launch_template_id      = var.launch_template_id
  launch_template_version = var.launch_template_version
  subnet_ids              = var.subnet_ids
  target_group_arns       = [var.target_group_arn]
  min_size                = 1
  max_size                = var.desired_capacity + 1
  desired_capacity        = var.desired_capacity
  strategy                = "rolling"
  min_healthy_percent     = 100
  batch_size              = 1
  health_timeout          = "10m"
  tags = {
    example = "rolling"
  }

  timeouts {
    update = "60m"
  }
}

output "active_asg_name" {
  value = zdd_rollout.web.active_asg_name
}

output "generation" {
  value = zdd_rollout.web.generation
}

output "last_rollout_status" {
  value = zdd_rollout.web.last_rollout.status
}
