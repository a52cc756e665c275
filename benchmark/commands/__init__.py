"""Every ``bench`` command (click) and nothing else: each parses its options and calls the module that does
the work.  ``main.py`` is the group and registers the others; ``options.py`` holds options commands share."""
