output "active_asg_name" {
  value       = zdd_rollout.this.active_asg_name
  description = "The Auto Scaling group serving traffic."
}

output "generation" {
  value = zdd_rollout.this.generation
}

output "last_rollout" {
  value       = zdd_rollout.this.last_rollout
  description = "Status and timeline of the last rollout."
}
