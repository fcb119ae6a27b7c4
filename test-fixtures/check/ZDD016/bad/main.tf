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

resource "aws_lb_target_group" "api" {
  name                 = "api"
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

# Explicitly EC2: the group keeps instances the load balancer marks unhealthy.
resource "aws_autoscaling_group" "web" {
  name_prefix           = "web-"
  min_size              = 2
  max_size              = 6
  vpc_zone_identifier   = var.subnet_ids
  target_group_arns     = [aws_lb_target_group.web.arn]
  wait_for_elb_capacity = 2
  health_check_type     = "EC2"

  launch_template {
    id      = aws_launch_template.web.id
    version = aws_launch_template.web.latest_version
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Unset: AWS's default is EC2, the same defect.
resource "aws_autoscaling_group" "api" {
  name_prefix           = "api-"
  min_size              = 2
  max_size              = 6
  vpc_zone_identifier   = var.subnet_ids
  target_group_arns     = [aws_lb_target_group.api.arn]
  wait_for_elb_capacity = 2

  launch_template {
    id      = aws_launch_template.api.id
    version = aws_launch_template.api.latest_version
  }

  lifecycle {
    create_before_destroy = true
  }
}

# zdd_rollout's default is ELB; EC2 must be asked for, and should not be.
resource "zdd_rollout" "web" {
  name                    = "web"
  launch_template_id      = aws_launch_template.web.id
  launch_template_version = "7"
  subnet_ids              = var.subnet_ids
  target_group_arns       = [aws_lb_target_group.web.arn]
  min_size                = 2
  max_size                = 6
  desired_capacity        = 3
  health_check_type       = "EC2"
}
