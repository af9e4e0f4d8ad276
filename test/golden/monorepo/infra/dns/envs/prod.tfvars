zone = "example.internal"
