variable "name" {
  type        = string
  description = "Fleet name; Auto Scaling groups are named <name>-g<generation>."
}

variable "launch_template_id" {
  type = string
}

variable "launch_template_version" {
  type        = string
  description = "A pinned version number (e.g. aws_launch_template.x.latest_version)."
}

variable "subnet_ids" {
  type = list(string)
}

variable "target_group_arns" {
  type        = list(string)
  default     = []
  description = "Target groups for blue_green and rolling."
}

variable "strategy" {
  type    = string
  default = "blue_green"
  validation {
    condition     = contains(["blue_green", "rolling", "canary"], var.strategy)
    error_message = "strategy must be blue_green, rolling or canary."
  }
}

variable "min_size" {
  type    = number
  default = 1
}

variable "max_size" {
  type    = number
  default = 4
}

variable "desired_capacity" {
  type    = number
  default = 2
}

variable "min_healthy_percent" {
  type    = number
  default = 100
}

variable "batch_size" {
  type    = number
  default = 1
}

variable "canary" {
  type = object({
    listener_arn            = string
    stable_target_group_arn = string
    canary_target_group_arn = string
    steps = optional(list(object({
      weight = number
      soak   = string
    })))
    alarm_names   = optional(list(string))
    max_5xx_ratio = optional(number)
  })
  default     = null
  description = "Required when strategy = \"canary\"."
}

variable "health_timeout" {
  type    = string
  default = "10m"
}

variable "tags" {
  type    = map(string)
  default = {}
}
