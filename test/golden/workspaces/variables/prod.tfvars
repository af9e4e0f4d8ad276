instance_count = 3
region         = "eu-central-1"
