variable "instance_count" {
  description = "Set only by variables/<env>.tfvars: no default."
  type        = number
}

variable "region" {
  type = string
}

resource "terraform_data" "platform" {
  input = {
    workspace      = terraform.workspace
    instance_count = var.instance_count
    region         = var.region
  }
}

output "workspace" {
  value = terraform.workspace
}

output "instance_count" {
  value = var.instance_count
}
