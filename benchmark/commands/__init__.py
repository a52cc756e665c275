"""Every ``bench`` command (click) and nothing else: each parses its options and calls the module that does
the work."""
