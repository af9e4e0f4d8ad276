variable "environment" {
  type = string
}

variable "replicas" {
  description = "Set only by envs/<env>.tfvars: no default."
  type        = number
}

module "labels" {
  source      = "../../modules/labels"
  name        = "app"
  environment = var.environment
}

resource "terraform_data" "app" {
  input = {
    replicas = var.replicas
    tags     = module.labels.tags
  }
}

output "replicas" {
  value = var.replicas
}
