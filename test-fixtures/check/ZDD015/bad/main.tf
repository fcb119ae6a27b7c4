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

# A web fleet scaled on CPU: every apply puts it back to 3 instances, even at peak.
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
    # Ignoring other attributes does not protect the capacity.
    ignore_changes = [tags]
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

# Queue workers scaled in steps on queue depth, referred to by id (the group's name).
resource "aws_autoscaling_group" "workers" {
  name_prefix         = "workers-"
  min_size            = 1
  max_size            = 20
  desired_capacity    = 4
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
