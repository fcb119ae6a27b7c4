resource "zdd_rollout" "web" {
  name                    = "web"
  launch_template_id      = aws_launch_template.web.id
  launch_template_version = aws_launch_template.web.latest_version
  subnet_ids              = aws_subnet.private[*].id
  target_group_arns       = [aws_lb_target_group.web.arn]
  min_size                = 2
  max_size                = 6
  desired_capacity        = 3
  strategy                = "rolling"
  min_healthy_percent     = 100
  batch_size              = 1
  health_timeout          = "10m"
  tags                    = { team = "web" }

  timeouts {
    update = "60m"
  }
}
