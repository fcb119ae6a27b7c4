variable "name" {
  type = string
}

resource "aws_autoscaling_group" "this" {
  name_prefix         = "${var.name}-"
  min_size            = 1
  max_size            = 3
  vpc_zone_identifier = ["subnet-a"]

  launch_template {
    id      = "lt-0abc"
    version = "3"
  }
}
