"""Meta-training of the generator (graph VAE) and the meta-predictors over ``list[TaskData]``.

One straight loop; ``meta_train`` reads as the story of a run:

    data       train / valid tasks as tensors (training/batching.py)
    models     graph VAE, predictor, dataset-agnostic predictor, one AdamW each; resume from last.pt
    each epoch:
      step     a generator epoch (GraphVAE.loss), a predictor epoch and an agnostic epoch
               (MetaPredictor.loss) over random batches of train tasks, cosine learning rate
      evaluate each model on the valid tasks (training/validation.py)
      select   keep the epoch whose valid Kendall tau is the best so far
      save     export that model (training/checkpointing.py), then last.pt for resuming

Everything random draws from one ``torch.Generator`` whose state is checkpointed, so a resumed
run continues the same sample stream.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from metad2a.database.task_data import TaskData
from metad2a.errors import DataError
from metad2a.models.cell_features import unique_node_types
from metad2a.models.config import ModelConfig
from metad2a.models.graph_encoder import encode_archs
from metad2a.models.graph_vae import GraphVAE
from metad2a.models.predictor import MetaPredictor
from metad2a.space import all_archs
from metad2a.training.batching import TaskTensors, generator_batch, predictor_batch, prepare_tasks, task_batches
from metad2a.training.checkpointing import RunFiles, data_fingerprint
from metad2a.training.config import TrainerConfig, check_train_config
from metad2a.training.logging import NullLogger, epoch_line
from metad2a.training.validation import generator_scores, predict_tasks, ranking_metrics


@dataclass
class TrainResult:
    """Where the exports went and the best validation metrics."""

    checkpoint_dir: Path
    epochs_run: int
    best: dict[str, float]
    history: list[dict[str, float]]


def split_tasks(tasks: Sequence[TaskData], feat_dim: int) -> tuple[list[TaskData], list[TaskData]]:
    """The train and valid tasks; DataError when there is nothing to train on or the feature size is off."""
    train = [t for t in tasks if t.split == "train"]
    valid = [t for t in tasks if t.split == "valid"]
    if not train:
        raise DataError("no tasks with split='train' in the meta-training data: "
                        "check data= (the database's task splits)")
    bad = {t.features.shape[-1] for t in tasks} - {feat_dim}
    if bad:
        raise DataError(f"task features have dim {sorted(bad)} but model.feat_dim={feat_dim}: "
                        f"set model.feat_dim={sorted(bad)[0]} (512 for ResNet18, 1280 for EfficientNet-Lite0)")
    if not valid:
        print("warning: no valid-split tasks; selecting checkpoints on the train tasks")
        valid = train
    return train, valid


def run_epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, tasks: Sequence[TaskTensors],
              loss_of: Callable[[list[TaskTensors]], dict[str, torch.Tensor]], tcfg: TrainerConfig,
              gen: torch.Generator) -> dict[str, float]:
    """One pass over ``tasks`` in random batches (loss, backward, clip, step); the mean of each loss term."""
    model.train()
    sums: dict[str, float] = {}
    batches = task_batches(len(tasks), tcfg.batch_tasks, gen)
    for idx in batches:
        out = loss_of([tasks[i] for i in idx])
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        if tcfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        opt.step()
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
    return {k: v / len(batches) for k, v in sums.items()}


def _improved(best: float, value: float) -> bool:
    return not math.isnan(value) and (math.isnan(best) or value > best)


def meta_train(
    tasks: Sequence[TaskData],
    model_cfg: ModelConfig,
    trainer_cfg: TrainerConfig,
    checkpoint_dir: str | Path,
    config: Mapping[str, Any] | None = None,
    logger: Any = None,
    seed: int = 0,
) -> TrainResult:
    """Train generator, predictor and agnostic predictor on the train split, select on the valid split.

    Writes ``generator.pt``, ``predictor.pt``, ``predictor_agnostic.pt`` (best epochs) and
    ``last.pt`` (resumable state) into ``checkpoint_dir``; ``config`` (the resolved run config)
    goes into every file with the data fingerprint and code version.
    """
    tcfg, logger = trainer_cfg, logger or NullLogger()
    check_train_config(model_cfg, tcfg)
    if tcfg.num_threads:
        torch.set_num_threads(tcfg.num_threads)
    train, valid = split_tasks(tasks, model_cfg.feat_dim)

    # data
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev = tcfg.device
    train_t, valid_t = [prepare_tasks(ts, tcfg.top_k, tcfg.top_frac, tcfg.target_temperature, dev)
                        for ts in (train, valid)]
    all_cells = encode_archs(all_archs()).to(dev)
    files = RunFiles(Path(checkpoint_dir), model_cfg.to_dict(),
                     dict(config or {"model": model_cfg.to_dict(), "trainer": asdict(tcfg), "seed": seed}),
                     data_fingerprint(tasks))

    # models
    vae = GraphVAE(model_cfg).to(dev)
    preds = {"predictor": MetaPredictor(model_cfg).to(dev)} if tcfg.train_predictor else {}
    if tcfg.train_agnostic:
        preds["agnostic"] = MetaPredictor(model_cfg, agnostic=True).to(dev)
    mean_acc = float(torch.cat([t.acc for t in train_t]).mean())
    train_cells = unique_node_types(torch.cat([t.node_type for t in train_t]))
    for m in preds.values():
        torch.nn.init.constant_(m.head[-1].bias, mean_acc)  # start at the average accuracy
        if model_cfg.cell_features == "graf":
            m.cell_features.fit(train_cells)
    models: dict[str, torch.nn.Module] = ({"generator": vae} if tcfg.train_generator else {}) | preds
    opts = {k: torch.optim.AdamW(m.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay) for k, m in models.items()}
    start, best, history = 0, {k: float("nan") for k in models}, []
    if tcfg.resume and (state := files.resume(models, opts, gen)) is not None:
        start, best, history = state
        print(f"resumed from {files.last_path} at epoch {start}/{tcfg.epochs}")

    def generator_loss(batch: list[TaskTensors]) -> dict[str, torch.Tensor]:
        unlabelled = tcfg.unlabelled_cells if model_cfg.g2g_weight > 0 else 0
        return vae.loss(**generator_batch(batch, tcfg.samples_per_class, gen, all_cells, unlabelled,
                                          with_cells=model_cfg.gen_rank_weight > 0))

    t0, done = time.time(), start
    for epoch in range(start, tcfg.epochs):
        te, lr = time.time(), tcfg.lr_at(epoch)
        for opt in opts.values():
            for g in opt.param_groups:
                g["lr"] = lr
        row: dict[str, float] = {"epoch": epoch + 1, "lr": lr}

        # step
        if "generator" in models:
            losses = run_epoch(vae, opts["generator"], train_t, generator_loss, tcfg, gen)
            row |= {f"gen/{k}": v for k, v in losses.items()}
        for key, m in preds.items():
            losses = run_epoch(m, opts[key], train_t,
                               lambda b, m=m: m.loss(**predictor_batch(b, tcfg.samples_per_class, gen)), tcfg, gen)
            row |= {f"{key}/{k}": v for k, v in losses.items()}

        # evaluate, select, save the best
        if (epoch + 1) % tcfg.eval_every == 0 or epoch + 1 == tcfg.epochs:
            for key, m in preds.items():
                r = ranking_metrics(predict_tasks(m, valid_t, tcfg.samples_per_class), valid_t)
                row |= {f"val/{key}_kendall": r["kendall"], f"val/{key}_spearman": r["spearman"]}
                if _improved(best[key], r["kendall"]):
                    best[key] = r["kendall"]
                    files.export(key, m, epoch + 1, {"val_kendall": r["kendall"], "val_spearman": r["spearman"]})
            if "generator" in models:
                tau, nll = generator_scores(vae, valid_t, tcfg.samples_per_class)
                row |= {"val/generator_kendall": tau, "val/generator_nll": nll}
                if _improved(best["generator"], tau):
                    best["generator"] = tau
                    files.export("generator", vae, epoch + 1, {"val_kendall": tau, "val_nll": nll})
        row["time/epoch_s"] = time.time() - te
        history.append(row)
        logger.log(row, step=epoch + 1)
        print(epoch_line(row), flush=True)

        # save the run's state
        files.save_last(models, opts, gen, epoch + 1, best, history)
        done = epoch + 1
        if tcfg.time_limit_min and time.time() - t0 > 60 * tcfg.time_limit_min and done < tcfg.epochs:
            print(f"stopping after {(time.time() - t0) / 60:.1f} min (trainer.time_limit_min); rerun to resume")
            break
    return TrainResult(files.out_dir, done - start, best, history)
