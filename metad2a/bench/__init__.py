"""The transfer benchmark: every cell-picking method, one protocol, held-out datasets.

    python -m metad2a.bench                       # conf/bench/default.yaml -> bench/results/transfer.*

The protocol, in one place:

- **Datasets** (``tasks.py``), each with its truth named in every table: CIFAR-100, whose truth
  is NB201's ``cifar100_test`` column for every cell (``nb201-cifar100``: looked up, never
  trained); CIFAR-10, MNIST, Fashion-MNIST from the meta-test store (the truth recipe); each
  held-out domain's tasks, scored by models retrained without it (leave-one-domain-out); and
  the Tiny-ImageNet test tasks of database v1 (the mini recipe), the within-distribution row.
  A trained task's truth is the seed mean of its records' ``target``.
- **Methods** (``methods.py``): each is an object with ``run(task, seed) -> MethodRun``: the
  picked cell(s), scores over the evaluated cells when it has them, cells trained on the
  target, and search seconds. Stochastic methods run every seed; the others run once.
- **Ground truth of picks** (``ground_truth.py``): on a table, the pick's row; otherwise a
  pick that is (canonically) an evaluated cell takes that cell's accuracy, and any other is
  trained with the task's recipe and seeds and cached in ``<out_dir>/ground_truth/``, so
  reruns train nothing.
- **Metrics** (``metrics.py``, pure): accuracy, percentile among the evaluated cells (or all
  cells of a table), regret, within-task Spearman and Kendall, median search seconds,
  mean ± std over seeds, and each method's mean rank across datasets.
- **Runner** (``runner.py``) runs methods x tasks x seeds and logs each method to W&B;
  **report** (``report.py``, ``plots.py``) writes ``transfer.md``, ``transfer.json`` (with
  the targets, met or missed) and PNGs; ``app.py`` wires a Hydra config (``conf/bench/``) to all of it.
"""

from metad2a.bench.methods import MethodRun
from metad2a.bench.runner import BenchResult, run_benchmark
from metad2a.bench.tasks import BenchTask, load_bench_tasks

__all__ = ["BenchResult", "BenchTask", "MethodRun", "load_bench_tasks", "run_benchmark"]
