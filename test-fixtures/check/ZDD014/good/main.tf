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

resource "aws_autoscaling_group" "web" {
  name_prefix         = "web-"
  min_size            = 2
  max_size            = 6
  desired_capacity    = 3
  vpc_zone_identifier = var.subnet_ids
  target_group_arns   = [aws_lb_target_group.web.arn]
  health_check_type   = "ELB"
  wait_for_elb_capacity = 3

  launch_template {
    id      = aws_launch_template.web.id
    version = aws_launch_template.web.latest_version
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_target_group" "blue" {
  name                 = "web-blue"
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

resource "aws_lb_target_group" "green" {
  name                 = "web-green"
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

resource "zdd_rollout" "web" {
  name                    = "web"
  launch_template_id      = aws_launch_template.web.id
  launch_template_version = "7"
  subnet_ids              = var.subnet_ids
  min_size                = 2
  max_size                = 6
  desired_capacity        = 3
  strategy                = "canary"
  canary = {
    listener_arn            = aws_lb_listener.web.arn
    stable_target_group_arn = aws_lb_target_group.blue.arn
    canary_target_group_arn = aws_lb_target_group.green.arn
    steps = [
      { weight = 5, soak = "5m" },
      { weight = 25, soak = "5m" },
      { weight = 50, soak = "5m" },
      { weight = 100, soak = "0s" },
    ]
    alarm_names   = ["web-5xx"]
    max_5xx_ratio = 0.01
  }
  health_timeout          = "10m"
  rollback_on_failure     = true
}
