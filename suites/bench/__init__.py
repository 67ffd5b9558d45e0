"""Checks of the asv benchmarks: configuration, the floor, the machine command, a smoke run."""
