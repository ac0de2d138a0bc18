"""NAS-Bench-201's ImageNet16-120 results as one meta-training task of the record store.

NAS-Bench-201 trained every one of the 15,625 cells properly (200 epochs, C=16, N=5) on
ImageNet16-120: 120 ImageNet classes downsampled to 16x16. That table is exactly the kind of
label the product needs (what proper training rewards), so it enters meta-training as the
records of one task:

- task ``nb201-imagenet16-120``, split "train", whose images for the dataset embedding are a
  **stand-in**: 120 Tiny-ImageNet classes (the same draw as the 120-class fidelity task), since
  ImageNet16-120 itself is not in the shared data. Both are ImageNet subsets at low resolution;
  the classes are not the same 120.
- recipe ``nb201-200ep`` (``NB201_IN16``), so no model mistakes these labels for our own CPU
  runs; the records carry the final test accuracy and no curves.

Only the ImageNet16-120 column may be imported. The CIFAR-100 column is meta-test truth and
is refused (``MetaTestLeakError``), whatever store it is asked to go into.
"""

from __future__ import annotations

import time

from metad2a.database.store import Store
from metad2a.database.tasks import MetaTestLeakError, TaskSpec, fidelity_task
from metad2a.recipe import Recipe, recipe_hash

NB201_TASK_ID = "nb201-imagenet16-120"
IMPORTABLE_COLUMNS = ("imagenet16_120_test",)
# NAS-Bench-201's ImageNet16-120 recipe (Dong & Yang, 2020): 200 epochs, batch 256, SGD
# Nesterov 0.9, lr 0.1 cosine, wd 5e-4, flip + crop, 16x16 images, ~1,264 train and 50 test
# images per class. Recorded so the label's fidelity is explicit; we never run it on CPU.
NB201_IN16 = Recipe(
    name="nb201-200ep", version=1, C=16, N=5, resolution=16, epochs=200, batch_size=256,
    lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, schedule="cosine",
    augment="flip_crop", train_per_class=1264, test_per_class=50, target="final", target_last_k=1,
)


def nb201_task() -> TaskSpec:
    """The import's task spec: 120 Tiny-ImageNet classes standing in for ImageNet16-120."""
    ref = fidelity_task(120)
    return TaskSpec(NB201_TASK_ID, "tiny-imagenet", ref.classes, 100, 50, 0, "train", 16, 3)


def import_nb201_table(store: Store, column: str = "imagenet16_120_test",
                       table: dict[str, dict[str, float]] | None = None) -> int:
    """Insert one record per NB201 cell (15,625) under ``nb201-imagenet16-120``; returns rows added.

    ``table`` maps arch -> {column: accuracy (%)} (default: the shared NB201 table). Idempotent:
    a second import adds nothing. Refuses any column but ImageNet16-120's.
    """
    if column not in IMPORTABLE_COLUMNS:
        raise MetaTestLeakError(f"NB201 column {column!r} cannot enter meta-training: only {IMPORTABLE_COLUMNS} "
                                "may; the CIFAR-100 column is meta-test truth")
    if store.role != "meta-train":
        raise MetaTestLeakError(f"{store.path} is a {store.role} store: the NB201 table goes into the meta-train store")
    if table is None:
        from metad2a.nb201_tables import test_accuracy

        table = test_accuracy()
    spec = nb201_task()
    store.add_recipe(NB201_IN16)
    store.add_tasks([spec])
    h, now = recipe_hash(NB201_IN16), time.time()
    rows = []
    for arch, row in sorted(table.items()):
        acc = float(row[column])
        rows.append({"task_id": spec.task_id, "arch": arch, "seed": 0, "recipe_hash": h, "final_acc": acc,
                     "target": acc, "train_loss": [], "test_acc": [], "test_loss": [], "params": None,
                     "flops": None, "wall_s": None, "cpu_s": None, "device": "nb201", "host": "nas-bench-201",
                     "created": now})
    return store.add_records(rows)
