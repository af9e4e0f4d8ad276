instance_count = 1
region         = "eu-west-1"
