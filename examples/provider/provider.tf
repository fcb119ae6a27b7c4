terraform {
  required_providers {
    zdd = {
      source = "zdd/zdd"
    }
  }
}

provider "zdd" {
  region = "us-east-1"

  # Optional: the rate budget per AWS API (the defaults stay below AWS's limits).
  api_rate_limits = {
    "autoscaling:DescribeAutoScalingGroups" = "2/s burst 4"
    "elasticloadbalancing:*"                = "0.5/s"
  }
}
