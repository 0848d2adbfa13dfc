"""The Python runner of the shop's shared features (examples/features/README.md)."""
