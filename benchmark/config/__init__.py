"""What a run is: the registry of entries, their resolution (``extends``, profiles, ``--set``) and the strict
settings policy with its value rules."""
