zone = "dev.example.internal"
