"""``cae demo``: the end-to-end CAE scenario, narrated (see :mod:`.scenario`)."""
