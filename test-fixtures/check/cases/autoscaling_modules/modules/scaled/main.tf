resource "aws_autoscaling_group" "this" {
  name_prefix      = "scaled-"
  min_size         = 2
  max_size         = 12
  desired_capacity = 2
}

resource "aws_autoscaling_policy" "cpu" {
  name                   = "cpu"
  autoscaling_group_name = aws_autoscaling_group.this.name
  policy_type            = "TargetTrackingScaling"
}
