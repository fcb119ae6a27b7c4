terraform {
  backend "s3" {
    bucket       = "acme-tfstate"
    key          = "web/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}

resource "aws_lb_target_group" "web" {
  name                 = "web"
  port                 = 80
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path              = "/healthz"
    matcher           = "200"
    interval          = 10
    healthy_threshold = 3
  }
}

# Terraform sets the first capacity; the policy owns it afterwards.
resource "aws_autoscaling_group" "web" {
  name_prefix           = "web-"
  min_size              = 2
  max_size              = 12
  desired_capacity      = 3
  vpc_zone_identifier   = var.subnet_ids
  target_group_arns     = [aws_lb_target_group.web.arn]
  wait_for_elb_capacity = 3
  health_check_type     = "ELB"

  launch_template {
    id      = aws_launch_template.web.id
    version = aws_launch_template.web.latest_version
  }

  lifecycle {
    create_before_destroy = true
    ignore_changes        = [desired_capacity]
  }
}

resource "aws_autoscaling_policy" "web_cpu" {
  name                   = "web-cpu-50"
  autoscaling_group_name = aws_autoscaling_group.web.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = 50
  }
}

# No desired_capacity: Terraform never sends one on update, the policy owns it from the start.
resource "aws_autoscaling_group" "workers" {
  name_prefix         = "workers-"
  min_size            = 1
  max_size            = 20
  vpc_zone_identifier = var.subnet_ids

  launch_template {
    id      = aws_launch_template.workers.id
    version = aws_launch_template.workers.latest_version
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_autoscaling_policy" "workers_out" {
  name                   = "workers-out"
  autoscaling_group_name = aws_autoscaling_group.workers.id
  policy_type            = "StepScaling"
  adjustment_type        = "ChangeInCapacity"

  step_adjustment {
    scaling_adjustment          = 2
    metric_interval_lower_bound = 0
  }
}

# A fixed-size group without policies: Terraform is the only one setting its capacity.
resource "aws_autoscaling_group" "cron" {
  name_prefix         = "cron-"
  min_size            = 1
  max_size            = 2
  desired_capacity    = 1
  vpc_zone_identifier = var.subnet_ids

  launch_template {
    id      = aws_launch_template.cron.id
    version = aws_launch_template.cron.latest_version
  }

  lifecycle {
    create_before_destroy = true
    ignore_changes        = all
  }
}

# A policy whose group is passed in: unknown here, so no guess.
resource "aws_autoscaling_policy" "external" {
  name                   = "external-cpu"
  autoscaling_group_name = var.external_group_name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = 50
  }
}
