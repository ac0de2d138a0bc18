"""Functions that spawned test processes run: this module imports nothing heavy, so they start fast."""


def open_each_round(paths, barrier, errors):
    """Spawned worker: open every fresh store in ``paths`` together with the other workers."""
    from metad2a.database.store import Store

    for p in paths:
        barrier.wait(timeout=120)
        try:
            Store(p).close()
        except Exception as e:  # noqa: BLE001 - the test reports every failure
            errors.put(f"{type(e).__name__}: {e}")
    errors.put(None)

