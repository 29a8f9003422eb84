"""The build cache: the record of what the last complete build saw and published
(``snapshot``), the quick rebuild of edited bodies from it (``incremental``), and the keys of
outputs' inputs (``keys``). Its SQL is in ``feedpub.store.cache``.

May import what the rest of ``site`` may.
"""
