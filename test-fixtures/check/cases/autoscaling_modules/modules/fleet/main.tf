resource "aws_autoscaling_group" "this" {
  name_prefix      = "fleet-"
  min_size         = 2
  max_size         = 12
  desired_capacity = 2
}

output "group_name" {
  value = aws_autoscaling_group.this.name
}
