# One of 4 pipelines that may apply at once in the same account and region:
# a quarter of the account's limits each.
provider "zdd" {
  region = "eu-west-1"
  api_rate_limits = {
    "autoscaling:DescribeAutoScalingGroups"              = "2.5/s burst 5"
    "autoscaling:DescribeLifecycleHooks"                 = "2.5/s burst 5"
    "autoscaling:*"                                      = "1/s burst 3"
    "elasticloadbalancing:DescribeTargetHealth"          = "1.5/s burst 4"
    "elasticloadbalancing:DescribeListeners"             = "0.5/s burst 2"
    "elasticloadbalancing:DescribeTargetGroups"          = "0.25/s burst 2"
    "elasticloadbalancing:DescribeTargetGroupAttributes" = "0.25/s burst 2"
    "cloudwatch:DescribeAlarms"                          = "2/s burst 3"
  }
}
