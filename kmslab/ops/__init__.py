"""Operation families of the KMS service, one module each, all built on ServiceBase."""
