"""Task specs as pure data: which images of which classes make up one classification task.

Meta-training tasks are seeded random k-class subsets of Tiny-ImageNet, split task-disjointly
into train / valid / test. CIFAR-10, MNIST and Fashion-MNIST are meta-test only: their specs
carry ``split="meta-test"`` and every meta-training builder refuses them
(``check_meta_train``). ``load_task_images`` turns a spec into arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from metad2a.errors import DataError, MetaD2AError

# Array sources: shared-data .npz files with x (N, H, W[, 3]) uint8, y (N,) and class_names.
# The five domains are meta-training sources (docs/database.md); CIFAR-100's test set is
# meta-test only: NB201's cifar100_test column is its exact 200-epoch truth.
NPZ_SOURCES = {
    "notmnist": "images/domains/notmnist.npz",
    "kannada": "images/domains/kannada_digits.npz",
    "sign-digits": "images/domains/sign_language_digits.npz",
    "simpsons": "images/domains/simpsons_characters.npz",
    "brain-mri": "images/domains/brain_tumor_mri.npz",
    "cifar100": "images/cifar100/test.npz",
}
DOMAIN_SOURCES = ("notmnist", "kannada", "sign-digits", "simpsons", "brain-mri")
META_TRAIN_SOURCES = ("tiny-imagenet", *DOMAIN_SOURCES, "synthetic")
META_TEST_SOURCES = ("cifar10", "mnist", "fashion-mnist", "cifar100")
TRAINED_META_TEST = ("cifar10", "mnist", "fashion-mnist")  # truth comes from our own training runs
# What each source's images are: native side in pixels and colour channels (task descriptors).
SOURCE_FORMAT = {"tiny-imagenet": (64, 3), "notmnist": (28, 1), "kannada": (28, 1), "sign-digits": (64, 3),
                 "simpsons": (28, 3), "brain-mri": (64, 1), "cifar10": (32, 3), "mnist": (28, 1),
                 "fashion-mnist": (28, 1), "cifar100": (32, 3), "synthetic": (0, 3)}
META_SPLITS = ("train", "valid", "test")
# "probe": a Tiny-ImageNet task used only to measure a recipe (e.g. the 120-class fidelity task).
SPLITS = (*META_SPLITS, "probe", "meta-test")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MNIST_CLASSES = tuple(str(i) for i in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
TINY_IMAGENET_TRAIN, TINY_IMAGENET_VAL = 150, 50  # images per class in the shared copy


class MetaTestLeakError(MetaD2AError, ValueError):
    """A meta-test dataset was handed to something that builds meta-training data."""


@dataclass(frozen=True)
class TaskSpec:
    """One task: ``len(classes)``-way classification with per-class train/test image counts.

    task_id: unique name, e.g. "tin10-s0-0042" or "cifar10"
    source:  a META_TRAIN_SOURCES entry (Tiny-ImageNet, the five domains, synthetic) or a
             META_TEST_SOURCES entry (cifar10, mnist, fashion-mnist, cifar100)
    classes: class names in label order (wnids for Tiny-ImageNet)
    seed:    seeds the choice of images within each class
    split:   "train" | "valid" | "test" | "probe" | "meta-test"
    native_resolution, channels: the source's image side and colour (1 grey, 3 RGB), recorded
             as task descriptors; 0 = not recorded (specs written before they existed)
    """

    task_id: str
    source: str
    classes: tuple[str, ...]
    train_per_class: int
    test_per_class: int
    seed: int
    split: str
    native_resolution: int = 0
    channels: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        if self.source not in META_TRAIN_SOURCES + META_TEST_SOURCES:
            raise DataError(f"task {self.task_id}: unknown source {self.source!r}; "
                            f"use one of {META_TRAIN_SOURCES + META_TEST_SOURCES}")
        if self.split not in SPLITS:
            raise DataError(f"task {self.task_id}: split must be one of {SPLITS}, got {self.split!r}")
        if (self.source in META_TEST_SOURCES) != (self.split == "meta-test"):
            raise MetaTestLeakError(f"task {self.task_id}: source {self.source} with split {self.split}; "
                                    f"{META_TEST_SOURCES} must be, and only they may be, split='meta-test'")
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise DataError(f"task {self.task_id}: needs >= 2 distinct classes, got {len(self.classes)}")
        if self.train_per_class < 1 or self.test_per_class < 1:
            raise DataError(f"task {self.task_id}: train_per_class and test_per_class must be >= 1")

    @property
    def meta_test(self) -> bool:
        return self.split == "meta-test"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["classes"] = list(self.classes)
        for k in ("native_resolution", "channels"):  # absent in older specs: keep their JSON identical
            if d[k] == 0:
                del d[k]
        return d

    def descriptors(self) -> dict:
        """What about this task may matter to architecture choice (the issue's task descriptors)."""
        res, ch = SOURCE_FORMAT.get(self.source, (0, 0))
        return {"source": self.source, "num_classes": self.num_classes, "train_per_class": self.train_per_class,
                "test_per_class": self.test_per_class, "native_resolution": self.native_resolution or res,
                "channels": self.channels or ch}

    @classmethod
    def from_dict(cls, d: dict) -> "TaskSpec":
        return cls(**{**d, "classes": tuple(d["classes"])})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def check_meta_train(specs: Sequence[TaskSpec]) -> None:
    """Raise MetaTestLeakError if any spec is a meta-test task (call in every meta-training builder)."""
    bad = [s.task_id for s in specs if s.meta_test or s.source in META_TEST_SOURCES]
    if bad:
        raise MetaTestLeakError(f"meta-test tasks {bad[:5]} were passed to meta-training: "
                                f"{META_TEST_SOURCES} are for evaluation only; use meta-training tasks")


def split_tasks(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> list[str]:
    """Assign n tasks to "train"/"valid"/"test" (task-disjoint), in seeded random order.

    Returns a list of n split names; counts are ``round(n * fraction)`` for valid and test
    (at least 1 each when n >= 3 and the fraction is > 0), the rest train.
    """
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise DataError(f"split fractions must be three non-negative numbers summing to 1, got {list(fractions)}")
    n_valid, n_test = (max(int(f > 0 and n >= 3), int(round(n * f))) for f in fractions[1:])
    n_train = n - n_valid - n_test
    if n_train < 1:
        raise DataError(f"{n} tasks are too few for splits {list(fractions)}: make more tasks")
    names = ["train"] * n_train + ["valid"] * n_valid + ["test"] * n_test
    order = np.random.default_rng(seed).permutation(n)
    out = [""] * n
    for name, i in zip(names, order):
        out[i] = name
    return out


def make_meta_train_tasks(num_tasks: int, k: int = 20, train_per_class: int = 100,
                          test_per_class: int = 100, seed: int = 0, classes: Sequence[str] | None = None, source: str = "tiny-imagenet",
                          fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> list[TaskSpec]:
    """``num_tasks`` random k-class subsets of ``classes`` (default: all Tiny-ImageNet wnids).

    Task i draws its classes with ``default_rng([seed, i])``, so adding tasks never changes
    earlier ones. Splits come from ``split_tasks(num_tasks, fractions, seed)``.
    """
    if source not in META_TRAIN_SOURCES:
        raise MetaTestLeakError(f"source {source!r} cannot make meta-training tasks: use one of {META_TRAIN_SOURCES}")
    if classes is None:
        classes = _default_classes(source)
    pool = sorted(classes)
    if not 2 <= k <= len(pool):
        raise DataError(f"k={k} classes per task is out of range: the {source} pool has {len(pool)} classes")
    splits = split_tasks(num_tasks, fractions, seed)
    prefix = SOURCE_PREFIX[source]
    tasks = []
    for i in range(num_tasks):
        pick = np.random.default_rng([seed, i]).choice(len(pool), size=k, replace=False)
        tasks.append(TaskSpec(f"{prefix}{k}-s{seed}-{i:04d}", source, tuple(pool[j] for j in sorted(pick)),
                              train_per_class, test_per_class, seed, splits[i]))
    check_meta_train(tasks)
    return tasks


SOURCE_PREFIX = {"tiny-imagenet": "tin", "synthetic": "syn", "notmnist": "nmn", "kannada": "kan",
                 "sign-digits": "sgn", "simpsons": "smp", "brain-mri": "mri"}


def source_classes(source: str, root=None) -> list[str]:
    """All class names a meta-training source offers."""
    if source in NPZ_SOURCES:
        return npz_class_names(source, root)
    return _default_classes(source)


def make_source_tasks(source: str, num: int, ks: Sequence[int], train_counts: Sequence[int], test_per_class: int,
                      seed: int = 0, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                      classes: Sequence[str] | None = None) -> list[TaskSpec]:
    """``num`` tasks from one source that vary the class count and the images per class.

    Task i has ``ks[i % len(ks)]`` classes (all of them when k exceeds what the source has) and
    ``train_counts[(i // len(ks)) % len(train_counts)]`` train images per class, so the first
    ``len(ks) * len(train_counts)`` tasks cover every combination once. Classes are drawn with
    ``default_rng([seed, i, <source>])``; splits come from ``split_tasks(num, fractions, seed)``
    within the source, so every source has its own train/valid/test tasks and can also be held
    out whole. Ids read ``<prefix><k>-n<train>-s<seed>-<i>``, e.g. ``kan5-n100-s0-003``.
    """
    if source not in META_TRAIN_SOURCES:
        raise MetaTestLeakError(f"source {source!r} cannot make meta-training tasks: use one of {META_TRAIN_SOURCES}")
    if not ks or not train_counts:
        raise DataError(f"{source}: give at least one class count (ks) and one train count")
    pool = sorted(classes if classes is not None else source_classes(source))
    splits = split_tasks(num, fractions, seed)
    res, ch = SOURCE_FORMAT[source]
    tag = int(hashlib.sha1(source.encode()).hexdigest()[:8], 16)
    tasks = []
    for i in range(num):
        k = min(int(ks[i % len(ks)]), len(pool))
        n = int(train_counts[(i // len(ks)) % len(train_counts)])
        if k < 2:
            raise DataError(f"{source}: tasks need >= 2 classes, got k={k}")
        pick = np.random.default_rng([seed, i, tag]).choice(len(pool), size=k, replace=False)
        tasks.append(TaskSpec(f"{SOURCE_PREFIX[source]}{k}-n{n}-s{seed}-{i:03d}", source,
                              tuple(pool[j] for j in sorted(pick)), n, test_per_class, seed, splits[i], res, ch))
    check_meta_train(tasks)
    return tasks


def fidelity_task(num_classes: int = 120, train_per_class: int = TINY_IMAGENET_TRAIN,
                  test_per_class: int = TINY_IMAGENET_VAL, seed: int = 0,
                  classes: Sequence[str] | None = None) -> TaskSpec:
    """A ``num_classes``-way Tiny-ImageNet task (split "probe") mimicking ImageNet16-120."""
    pool = sorted(classes if classes is not None else _default_classes("tiny-imagenet"))
    pick = np.random.default_rng([seed, 120120]).choice(len(pool), size=num_classes, replace=False)
    return TaskSpec(f"tin{num_classes}-fidelity-s{seed}", "tiny-imagenet", tuple(pool[j] for j in sorted(pick)),
                    train_per_class, test_per_class, seed, "probe")


def meta_test_tasks(train_per_class: int = 100, test_per_class: int = 100, seed: int = 0,
                    datasets: Sequence[str] = TRAINED_META_TEST) -> list[TaskSpec]:
    """The meta-test tasks: CIFAR-10 (ImageFolder train/test), MNIST, Fashion-MNIST, CIFAR-100.

    MNIST, Fashion-MNIST and CIFAR-100 ship only their test sets here, so their train and test
    images are a seeded per-class split of those.
    """
    names = {"cifar10": CIFAR10_CLASSES, "mnist": MNIST_CLASSES, "fashion-mnist": FASHION_MNIST_CLASSES}
    unknown = sorted(set(datasets) - set(names) - {"cifar100"})
    if unknown:
        raise DataError(f"unknown meta-test datasets {unknown}: choose from {sorted([*names, 'cifar100'])}")
    out = []
    for d in datasets:
        classes = tuple(npz_class_names("cifar100")) if d == "cifar100" else names[d]
        res, ch = SOURCE_FORMAT[d]
        out.append(TaskSpec(d, d, classes, train_per_class, test_per_class, seed, "meta-test", res, ch))
    return out


def reference_task(name: str, train_per_class: int | None = None, test_per_class: int | None = None) -> TaskSpec:
    """A task with a full-training reference in NAS-Bench-201, for measuring a recipe's fidelity.

    "cifar100": CIFAR-100's test images split 70 train / 30 test per class (NB201's
    ``cifar100_test`` column is the reference); "imagenet16": 120 Tiny-ImageNet classes,
    100 train and 50 val images per class (against ``imagenet16_120_test``).
    """
    if name == "cifar100":
        return meta_test_tasks(train_per_class or 70, test_per_class or 30, datasets=["cifar100"])[0]
    if name == "imagenet16":
        return fidelity_task(120, train_per_class or 100, test_per_class or TINY_IMAGENET_VAL)
    raise DataError(f"unknown reference {name!r}: use cifar100 or imagenet16")


def _default_classes(source: str) -> list[str]:
    if source == "synthetic":
        return [f"c{i:02d}" for i in range(20)]
    from metad2a.data import tiny_imagenet_classes

    return tiny_imagenet_classes()


# ---------------------------------------------------------------- images of a task


@dataclass
class TaskImages:
    """The images of one task at one resolution.

    train_x: (N_train, H, W, 3) uint8, train_y: (N_train,) int64 in [0, num_classes)
    test_x:  (N_test, H, W, 3) uint8,  test_y:  (N_test,) int64
    """

    spec: TaskSpec
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray

    def fingerprint(self) -> str:
        """sha1 over all arrays: which exact pixels a record was trained on."""
        h = hashlib.sha1()
        for a in (self.train_x, self.train_y, self.test_x, self.test_y):
            h.update(repr(a.shape).encode())
            h.update(np.ascontiguousarray(a).data)
        return h.hexdigest()[:16]


def load_task_images(spec: TaskSpec, size: int, root: str | os.PathLike | None = None,
                     meta_test_ok: bool = False) -> TaskImages:
    """Load the images of ``spec`` at ``size`` x ``size``.

    root: the shared data directory holding ``images/`` (default: ``shared_data_dir()``).

    Meta-test specs raise MetaTestLeakError unless ``meta_test_ok`` (set only by code that
    builds meta-test ground truth).
    """
    if spec.meta_test and not meta_test_ok:
        check_meta_train([spec])
    loader = {"tiny-imagenet": _tiny_imagenet, "synthetic": _synthetic, "cifar10": _cifar10,
              "mnist": _idx, "fashion-mnist": _idx, **{k: _npz for k in NPZ_SOURCES}}[spec.source]
    return loader(spec, size, root)


def _npz_file(source: str, root=None):
    from metad2a.shared_data import shared_file

    return shared_file(NPZ_SOURCES[source], root)


def npz_class_names(source: str, root=None) -> list[str]:
    """The class names of an array source, in label order (``class_N`` when the file has none)."""
    x, y, names = _npz_arrays(str(_npz_file(source, root)))
    return names


@lru_cache(maxsize=4)
def _npz_arrays(path: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(x uint8 (N, H, W[, 3]), y (N,) int64 in [0, C), class names) of one source file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y = z["x"], z["y"].astype(np.int64)
            names = [str(n) for n in z["class_names"]] if "class_names" in z.files else None
    except (KeyError, ValueError, OSError) as e:
        raise DataError(f"{path} is not an image archive with arrays x and y ({e}): check the shared data") from e
    if x.dtype != np.uint8 or len(x) != len(y) or y.min() < 0:
        raise DataError(f"{path}: expected x uint8 and y >= 0 of equal length, got {x.dtype} {x.shape}, {y.shape}")
    num = int(y.max()) + 1
    if names is None:
        names = [f"class_{i}" for i in range(num)]
    if len(names) != num:
        raise DataError(f"{path}: {len(names)} class names for labels 0..{num - 1}")
    return x, y, names


def _npz(spec: TaskSpec, size: int, root) -> TaskImages:
    """A class subset of an array source, split per class into train and test (seeded)."""
    from metad2a.data import resize_batch, split_per_class, to_uint8_nhwc

    x, y, names = _npz_arrays(str(_npz_file(spec.source, root)))
    missing = sorted(set(spec.classes) - set(names))
    if missing:
        raise DataError(f"task {spec.task_id}: classes {missing[:5]} are not in {spec.source} ({len(names)} classes)")
    ids = [names.index(c) for c in spec.classes]
    relabel = np.full(len(names), -1, dtype=np.int64)
    relabel[ids] = np.arange(len(ids))
    keep = np.flatnonzero(relabel[y] >= 0)
    labels = relabel[y[keep]]
    a, b = split_per_class(labels, spec.train_per_class, spec.test_per_class, spec.seed)
    img = lambda idx: resize_batch(to_uint8_nhwc(x[keep[idx]], spec.source), size)  # noqa: E731
    return TaskImages(spec, img(a), labels[a], img(b), labels[b])


def _tiny_imagenet(spec: TaskSpec, size: int, root) -> TaskImages:
    from metad2a.data import load_tiny_imagenet, split_per_class
    from metad2a.shared_data import shared_data_dir

    tin = shared_data_dir(root) / "images" / "tiny-imagenet-200"
    if spec.train_per_class + spec.test_per_class > TINY_IMAGENET_TRAIN + TINY_IMAGENET_VAL:
        raise DataError(f"task {spec.task_id}: {spec.train_per_class}+{spec.test_per_class} images per class "
                        f"exceed Tiny-ImageNet's {TINY_IMAGENET_TRAIN}+{TINY_IMAGENET_VAL}")
    kw = dict(classes=list(spec.classes), size=size, progress=False)
    if spec.test_per_class <= TINY_IMAGENET_VAL:
        # The val images are the test set: they share no photo with train.
        tr = load_tiny_imagenet(tin, "train", max_per_class=spec.train_per_class, seed=spec.seed, **kw)
        te = load_tiny_imagenet(tin, "val", max_per_class=spec.test_per_class, seed=spec.seed, **kw)
        return TaskImages(spec, tr.images, tr.labels, te.images, te.labels)
    # More test images than val holds: all val plus held-out train images.
    tr = load_tiny_imagenet(tin, "train", seed=spec.seed, **kw)
    te = load_tiny_imagenet(tin, "val", seed=spec.seed, **kw)
    a, b = split_per_class(tr.labels, spec.train_per_class, spec.test_per_class - TINY_IMAGENET_VAL, spec.seed)
    return TaskImages(spec, tr.images[a], tr.labels[a], np.concatenate([te.images, tr.images[b]]),
                      np.concatenate([te.labels, tr.labels[b]]))


def _cifar10(spec: TaskSpec, size: int, root) -> TaskImages:
    from metad2a.data import load_image_folder
    from metad2a.shared_data import shared_data_dir

    base = shared_data_dir(root) / "images" / "cifar10"
    tr = load_image_folder(base / "train", size, max_per_class=spec.train_per_class, seed=spec.seed, progress=False)
    te = load_image_folder(base / "test", size, max_per_class=spec.test_per_class, seed=spec.seed, progress=False)
    if tr.class_names != list(spec.classes) or te.class_names != list(spec.classes):
        raise DataError(f"{base} classes {tr.class_names} differ from CIFAR-10's {list(spec.classes)}")
    return TaskImages(spec, tr.images, tr.labels, te.images, te.labels)


def _idx(spec: TaskSpec, size: int, root) -> TaskImages:
    from metad2a.data import load_idx, split_per_class
    from metad2a.shared_data import shared_data_dir

    folder = shared_data_dir(root) / "images" / spec.source
    data = load_idx(folder, size=size)
    if data.num_classes != spec.num_classes:
        raise DataError(f"{folder} has {data.num_classes} classes, expected {spec.num_classes}")
    a, b = split_per_class(data.labels, spec.train_per_class, spec.test_per_class, spec.seed)
    return TaskImages(spec, data.images[a], data.labels[a], data.images[b], data.labels[b])


def _synthetic(spec: TaskSpec, size: int, root=None) -> TaskImages:
    """Learnable fake images: each class a fixed colour and stripe pattern plus pixel noise."""
    xs, ys = {"train": [], "test": []}, {"train": [], "test": []}
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    for label, name in enumerate(spec.classes):
        c = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)
        colour = np.random.default_rng(c).uniform(40, 215, 3)
        freq = 1 + c % 4
        pattern = 40 * np.sin(2 * np.pi * freq * (xx if c % 2 else yy))[..., None]
        for part, n in (("train", spec.train_per_class), ("test", spec.test_per_class)):
            rng = np.random.default_rng([spec.seed, c, part == "test"])
            img = colour + pattern + rng.normal(0, 30, (n, size, size, 3))
            xs[part].append(np.clip(img, 0, 255).astype(np.uint8))
            ys[part].append(np.full(n, label, dtype=np.int64))
    return TaskImages(spec, np.concatenate(xs["train"]), np.concatenate(ys["train"]),
                      np.concatenate(xs["test"]), np.concatenate(ys["test"]))
