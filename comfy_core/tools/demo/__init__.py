"""The built-in demo model: procedural data set and training loops."""
