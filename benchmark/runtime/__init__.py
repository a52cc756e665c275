"""Where a run executes: devices and their runtime switches, CPU threads, one process set-up, quiet native
libraries and the environment checks of ``bench doctor``."""
