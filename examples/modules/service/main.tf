# A service module for module authors: the launch template, subnets, target groups and
# strategy are inputs; the fleet is a zdd_rollout, so every version bump is a zero-downtime
# rollout. Compose it with your own load balancer and launch template resources.

terraform {
  required_version = ">= 1.5"
  required_providers {
    zdd = {
      source = "zdd/zdd"
    }
  }
}

resource "zdd_rollout" "this" {
  name                    = var.name
  launch_template_id      = var.launch_template_id
  launch_template_version = var.launch_template_version
  subnet_ids              = var.subnet_ids
  target_group_arns       = var.strategy == "canary" ? null : var.target_group_arns
  min_size                = var.min_size
  max_size                = var.max_size
  desired_capacity        = var.desired_capacity
  strategy                = var.strategy
  min_healthy_percent     = var.min_healthy_percent
  batch_size              = var.batch_size
  canary                  = var.canary
  health_timeout          = var.health_timeout
  tags                    = var.tags
}
