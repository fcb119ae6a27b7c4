variable "group_name" {
  type = string
}

variable "other_group_name" {
  type = string
}

resource "aws_autoscaling_policy" "literal" {
  name                   = "batch-queue"
  autoscaling_group_name = "batch"
  policy_type            = "StepScaling"
}

resource "aws_autoscaling_policy" "passed_in" {
  name                   = "web-requests"
  autoscaling_group_name = var.group_name
  policy_type            = "TargetTrackingScaling"
}

# The caller passes a variable of its own: unknown, no guess.
resource "aws_autoscaling_policy" "unknown" {
  name                   = "other-cpu"
  autoscaling_group_name = var.other_group_name
  policy_type            = "TargetTrackingScaling"
}
