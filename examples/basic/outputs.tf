output "generation" {
  value       = zdd_rollout.web.generation
  description = "The generation serving traffic: 1 after create, one more per rollout."
}

output "active_asg_name" {
  value = zdd_rollout.web.active_asg_name
}

output "active_launch_template_version" {
  value = zdd_rollout.web.active_launch_template_version
}

output "last_rollout" {
  value       = zdd_rollout.web.last_rollout
  description = "status, started_at, finished_at and the step timeline of the last rollout."
}
