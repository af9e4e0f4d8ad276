# Shared by both projects: a change here affects each of them.
variable "name" {
  type = string
}

variable "environment" {
  type = string
}

output "tags" {
  value = {
    Name        = var.name
    Environment = var.environment
  }
}
