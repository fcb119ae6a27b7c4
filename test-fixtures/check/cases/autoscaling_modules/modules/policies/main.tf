variable "group_name" {
  type = string
}

resource "aws_autoscaling_policy" "literal" {
  name                   = "cpu"
  autoscaling_group_name = "web"
  policy_type            = "TargetTrackingScaling"
}

resource "aws_autoscaling_policy" "passed_in" {
  name                   = "requests"
  autoscaling_group_name = var.group_name
  policy_type            = "TargetTrackingScaling"
}
