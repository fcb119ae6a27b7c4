# An autoscaled fleet: a target-tracking policy owns the capacity, lifecycle hooks give
# launching and retiring instances time, and the group replaces instances the load balancer
# reports unhealthy between deploys.
#
#   terraform apply -var launch_template_id=lt-0abc -var launch_template_version=7 \
#     -var 'subnet_ids=["subnet-a","subnet-b"]' -var target_group_arn=arn:aws:elasticloadbalancing:...
#
# desired_capacity is only the first generation's capacity: the policy scales the serving
# group, Read reports what it made of it as current_capacity (never as drift), and the next
# rollout (bump launch_template_version and apply) starts the new generation at that capacity.
# Workers complete the terminating hook's lifecycle action when they have drained
# (aws autoscaling complete-lifecycle-action), or it continues after heartbeat_timeout.

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

variable "drain_time" {
  type        = string
  default     = "5m"
  description = "How long a retiring instance may take to finish its work (30s to 2h)."
}

resource "zdd_rollout" "web" {
  name                    = var.name
  launch_template_id      = var.launch_template_id
  launch_template_version = var.launch_template_version
  subnet_ids              = var.subnet_ids
  target_group_arns       = [var.target_group_arn]
  min_size                = 2
  max_size                = 12
  desired_capacity        = 3 # the first generation's only: the policy owns the capacity

  health_check_type         = "ELB"
  health_check_grace_period = "2m"
  default_instance_warmup   = "60s"

  target_tracking = [{
    name              = "cpu-50"
    predefined_metric = "ASGAverageCPUUtilization"
    target_value      = 50
  }]

  lifecycle_hooks = [{
    name              = "drain-workers"
    transition        = "terminating"
    heartbeat_timeout = var.drain_time
    default_result    = "CONTINUE"
  }]

  tags = {
    example = "autoscaling"
  }

  # Omitted timeouts grow by the hooks' heartbeat_timeout; a configured one shorter than
  # the hooks may need gets a warning at plan time.
}

output "active_asg_name" {
  value = zdd_rollout.web.active_asg_name
}

output "current_capacity" {
  value = zdd_rollout.web.current_capacity
}

output "generation" {
  value = zdd_rollout.web.generation
}

output "last_rollout_status" {
  value = zdd_rollout.web.last_rollout.status
}
