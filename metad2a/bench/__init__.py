"""The transfer benchmark: every cell-picking method, one protocol, held-out datasets.

    python -m metad2a.bench                       # conf/bench/default.yaml -> bench/results/transfer.*

The protocol, in one place:

- **Tasks** (``tasks.py``): the meta-test datasets (CIFAR-10, MNIST, Fashion-MNIST) from the
  meta-test store and the test-split Tiny-ImageNet tasks from the meta-training store, each
  with its evaluated cells and their ground truth: the seed mean of the records' ``target``.
- **Methods** (``methods.py``): each is an object with ``run(task, seed) -> MethodRun``: the
  picked cell(s), scores over the evaluated cells when it has them, cells trained on the
  target, and search seconds. Stochastic methods run every seed; the others run once.
- **Ground truth of picks** (``ground_truth.py``): a pick that is (canonically) an evaluated
  cell takes that cell's accuracy; any other is trained with the task's recipe and seeds and
  cached in ``<out_dir>/ground_truth/extra-<role>.sqlite``, so reruns train nothing.
- **Metrics** (``metrics.py``, pure): accuracy, percentile among the evaluated cells, regret,
  within-task Spearman and Kendall, median search seconds, mean ± std over seeds.
- **Runner** (``runner.py``) runs methods x tasks x seeds and logs each method to W&B;
  **report** (``report.py``, ``plots.py``) writes ``transfer.md``, ``transfer.json`` and PNGs;
  ``app.py`` wires a Hydra config (``conf/bench/``) to all of it.
"""

from metad2a.bench.methods import MethodRun
from metad2a.bench.runner import BenchResult, run_benchmark
from metad2a.bench.tasks import BenchTask, load_bench_tasks

__all__ = ["BenchResult", "BenchTask", "MethodRun", "load_bench_tasks", "run_benchmark"]
