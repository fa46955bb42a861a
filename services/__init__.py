"""Hub-managed services of ML Lab Hub and their shared plumbing."""
