# The example Stepform drives in its demo and tests. It needs no cloud account and no
# network: `terraform_data` is built into Terraform/OpenTofu, and hashicorp/time comes from
# the provider mirror that set-up builds.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    time = {
      source  = "hashicorp/time"
      version = "0.14.2"
    }
  }
}

variable "greeting" {
  description = "Changing it changes the plan: one resource updated, one replaced."
  type        = string
  default     = "hello"
}

variable "secret" {
  description = "Stands for a real secret: it must never reach a log, a result or a comment."
  type        = string
  sensitive   = true
  default     = "example-secret-value"
}

resource "terraform_data" "greeting" {
  input = "${var.greeting}, world"
}

resource "time_static" "greeted_at" {
  triggers = {
    greeting = var.greeting
  }
}

resource "terraform_data" "secret_holder" {
  input = var.secret
}

output "greeting" {
  value = terraform_data.greeting.output
}

output "greeted_at" {
  value = time_static.greeted_at.rfc3339
}

output "secret" {
  value     = terraform_data.secret_holder.output
  sensitive = true
}
