"""Cost control: what each image model accepts (``catalog``), what a call costs (``prices``),
the spending budget (``budget``, ``store``), the paid calls of each run (``meter``,
``spending``) and estimates for a list of addresses (``estimate``).

Everything here is plain data and bookkeeping: it imports nothing above ``storage`` and
``config``, so the configuration can validate against it.
"""
