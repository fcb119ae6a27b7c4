resource "zdd_rollout" "workers" {
  name                    = "workers"
  launch_template_id      = aws_launch_template.workers.id
  launch_template_version = aws_launch_template.workers.latest_version
  subnet_ids              = aws_subnet.private[*].id
  target_group_arns       = [aws_lb_target_group.workers.arn]
  min_size                = 2
  max_size                = 12
  desired_capacity        = 3 # the first generation's only: the policy owns the capacity

  health_check_type         = "ELB"
  health_check_grace_period = "2m"
  default_instance_warmup   = "60s"

  target_tracking = [{
    name              = "requests"
    predefined_metric = "ALBRequestCountPerTarget"
    target_value      = 200
  }]

  lifecycle_hooks = [{
    name              = "drain-workers"
    transition        = "terminating"
    heartbeat_timeout = "5m"
    default_result    = "CONTINUE"
  }]
}
