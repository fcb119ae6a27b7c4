resource "zdd_rollout" "api" {
  name                    = "api"
  launch_template_id      = aws_launch_template.api.id
  launch_template_version = aws_launch_template.api.latest_version
  subnet_ids              = aws_subnet.private[*].id
  min_size                = 2
  max_size                = 6
  desired_capacity        = 3
  strategy                = "canary"

  canary = {
    listener_arn            = aws_lb_listener.api.arn
    stable_target_group_arn = aws_lb_target_group.blue.arn
    canary_target_group_arn = aws_lb_target_group.green.arn
    steps = [
      { weight = 5, soak = "5m" },
      { weight = 25, soak = "5m" },
      { weight = 50, soak = "5m" },
      { weight = 100, soak = "0s" },
    ]
    alarm_names           = ["api-5xx"]
    max_5xx_ratio         = 0.01     # target + ELB 5xx over requests
    max_p99_latency       = "800ms"  # TargetResponseTime p99
    max_regression        = 1.5      # at most 1.5 times stable's p99 and 5xx ratio
    min_requests          = 200      # evidence a soak needs
    insufficient_evidence = "extend" # soak on up to max_soak, then fail
    max_soak              = "30m"
  }

  bake = {
    duration    = "10m"
    alarm_names = ["api-errors"]
  }
}
