"""Built-in backends. Each registers through the ``harness.backends`` entry point group,
exactly as a third-party plugin does; this package is the only place that knows a framework.
"""
