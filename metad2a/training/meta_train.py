"""Meta-training of the meta-predictors, then of the generator (graph VAE), over ``list[TaskData]``.

One straight loop; ``meta_train`` reads as the story of a run:

    data       train / valid tasks as tensors (training/batching.py); NB201's table task, if
               present, becomes the predictors' prior (models/cell_prior.py)
    models     predictor, dataset-agnostic predictor, graph VAE, one AdamW each; resume from last.pt
    phase 1, ``trainer.epochs`` epochs:
      step     a predictor epoch and an agnostic epoch (MetaPredictor.loss) over random batches
               of train tasks, each task labelled by its recipe, cosine learning rate
      evaluate within-task Kendall tau on the valid tasks (training/validation.py)
      select   keep the epoch whose valid Kendall tau is the best so far, export it
    phase 2, ``trainer.generator_epochs`` epochs:
      targets  the selected predictor's top cells for each (varied) train dataset (training/distill.py)
      step     a generator epoch (GraphVAE.loss) on those (dataset, cells) pairs
      evaluate how many of the predictor's top-10 cells 100 samples recover, on the valid tasks
      select   keep the best epoch, export it
    save       after every epoch, last.pt for resuming (either phase)

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
from metad2a.database.tasks import META_TEST_SOURCES, MetaTestLeakError
from metad2a.errors import DataError
from metad2a.models.cell_features import unique_node_types
from metad2a.models.config import ModelConfig
from metad2a.models.graph_encoder import encode_archs
from metad2a.models.graph_vae import GraphVAE
from metad2a.models.predictor import MetaPredictor
from metad2a.space import all_archs
from metad2a.models.checkpoint import load_predictor
from metad2a.training.batching import (TaskTensors, feature_batch, generator_batch, predictor_batch, prepare_tasks,
                                       task_batches)
from metad2a.training.checkpointing import EXPORT_FILES, RunFiles, data_fingerprint
from metad2a.training.config import TrainerConfig, check_train_config
from metad2a.training.distill import CellBank, bank_scores, class_subset_features, recall_at, top_targets
from metad2a.training.logging import NullLogger, epoch_line
from metad2a.training.validation import generator_scores, predict_tasks, ranking_metrics

TABLE_RECIPE = "nb201-200ep"  # the recipe of NB201's imported table task: the predictors' prior


@dataclass
class TrainResult:
    """Where the exports went and the best validation metrics."""

    checkpoint_dir: Path
    epochs_run: int
    best: dict[str, float]
    history: list[dict[str, float]]


def split_tasks(tasks: Sequence[TaskData], feat_dim: int) -> tuple[list[TaskData], list[TaskData]]:
    """The train and valid tasks; DataError when there is nothing to train on or the feature size is off."""
    leaked = sorted({t.task_id for t in tasks if t.source in META_TEST_SOURCES or t.split == "meta-test"})
    if leaked:
        raise MetaTestLeakError(f"meta-test tasks {leaked[:5]} reached meta-training: {META_TEST_SOURCES} are "
                                "for evaluation only; check data=")
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


def fit_priors(preds: Mapping[str, MetaPredictor], train: Sequence[TaskData]) -> int:
    """Fill each predictor's cell prior from the train tasks labelled by NB201's table; cells used."""
    table = [t for t in train if t.recipe == TABLE_RECIPE]
    if not table or not preds:
        return 0
    nt = encode_archs(table[0].archs)
    for m in preds.values():
        if m.cfg.prior:
            m.prior.fit(nt, table[0].accs)
    return len(nt)


def predictor_step(model: MetaPredictor, batch: list[TaskTensors], table: TaskTensors | None, tcfg: TrainerConfig,
                   gen: torch.Generator) -> dict[str, torch.Tensor]:
    """``MetaPredictor.loss`` on ``batch``, with the table task added as the reference when there is one."""
    if table is not None and all(t is not table for t in batch):
        batch = [*batch, table]
    ref = next((i for i, t in enumerate(batch) if t is table), None)
    return model.loss(**predictor_batch(batch, tcfg.samples_per_class, gen, model.cfg.recipes,
                                        tcfg.max_cells_per_task), reference_index=ref)


def set_reference(model: MetaPredictor, table: TaskTensors | None, samples_per_class: int | None) -> None:
    """Store the table task's embedding (its first samples per class) as the model's reference."""
    if table is not None:
        x, mask = feature_batch([table], samples_per_class)
        model.set_reference(x, mask)


def distill_batch(predictor: MetaPredictor, bank: CellBank, batch: Sequence[TaskTensors], tcfg: TrainerConfig,
                  gen: torch.Generator) -> dict:
    """``GraphVAE.loss`` inputs for varied versions of ``batch``'s datasets and the predictor's top cells."""
    from metad2a.models.set_encoder import pad_features

    feats = [class_subset_features(t.features, gen, tcfg.samples_per_class) for t in batch]
    x, mask = pad_features(feats)
    scores = bank_scores(predictor, bank, x, mask)  # (B, U) %
    types, weights, tasks, rank_types, rank_acc, rank_task = [], [], [], [], [], []
    for b in range(len(batch)):
        idx, w = top_targets(scores[b], tcfg.generator_top_k, tcfg.target_temperature)
        extra = torch.randint(len(bank.archs), (tcfg.rank_cells,), generator=gen)
        both = torch.cat([idx, extra])
        types.append(bank.node_type[idx])
        weights.append(w)
        tasks.append(torch.full((len(idx),), b, dtype=torch.long))
        rank_types.append(bank.node_type[both])
        rank_acc.append(scores[b, both] / 100.0)
        rank_task.append(torch.full((len(both),), b, dtype=torch.long))
    return {"features": x, "mask": mask, "target_types": torch.cat(types), "target_task": torch.cat(tasks),
            "target_weight": torch.cat(weights), "extra_types": None, "generator": gen,
            "cells": (torch.cat(rank_types), torch.cat(rank_task), torch.cat(rank_acc))}


def generator_recall(vae: GraphVAE, predictor: MetaPredictor, bank: CellBank, tasks: Sequence[TaskTensors],
                     samples_per_class: int | None, top: int = 10, samples: int = 100) -> float:
    """Mean over ``tasks`` of ``recall_at``: the predictor's top cells found among 100 samples."""
    out = []
    for t in tasks:
        x, _ = feature_batch([t], samples_per_class)
        out.append(recall_at(vae, predictor, bank, x[0], top, samples)[0])
    return float(sum(out) / max(len(out), 1))


def meta_train(
    tasks: Sequence[TaskData],
    model_cfg: ModelConfig,
    trainer_cfg: TrainerConfig,
    checkpoint_dir: str | Path,
    config: Mapping[str, Any] | None = None,
    logger: Any = None,
    seed: int = 0,
) -> TrainResult:
    """Train predictor and agnostic predictor, then the generator, on the train split; select on valid.

    Writes ``predictor.pt``, ``predictor_agnostic.pt``, ``generator.pt`` (best epochs) and
    ``last.pt`` (resumable state) into ``checkpoint_dir``; ``config`` (the resolved run config)
    goes into every file with the data fingerprint and code version. The generator learns the
    selected predictor's top cells (``trainer.generator_targets=predictor``), or with
    ``generator_targets=evaluated`` each task's best evaluated cells (MetaD2A's original targets).
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
    # Selection and the generator's targets use tasks labelled like the bulk of the data, not the table.
    valid_t = [t for t in valid_t if t.recipe != TABLE_RECIPE] or valid_t
    all_cells = encode_archs(all_archs()).to(dev)
    files = RunFiles(Path(checkpoint_dir), model_cfg.to_dict(),
                     dict(config or {"model": model_cfg.to_dict(), "trainer": asdict(tcfg), "seed": seed}),
                     data_fingerprint(tasks))

    # models
    vae = GraphVAE(model_cfg).to(dev)
    preds = {"predictor": MetaPredictor(model_cfg).to(dev)} if tcfg.train_predictor else {}
    if tcfg.train_agnostic:
        preds["agnostic"] = MetaPredictor(model_cfg, agnostic=True).to(dev)
    own = [t for t in train_t if t.recipe != TABLE_RECIPE] or train_t
    mean_acc = float(torch.cat([t.acc for t in own]).mean())
    train_cells = unique_node_types(torch.cat([t.node_type for t in train_t]))
    prior_cells = fit_priors(preds, train)
    if model_cfg.prior and preds and not prior_cells:
        print(f"warning: no train task is labelled by {TABLE_RECIPE}: the predictors' prior stays flat")
    for m in preds.values():
        torch.nn.init.constant_(m.head[-1].bias, mean_acc)  # start at the average accuracy
        if model_cfg.cell_features == "graf":
            m.cell_features.fit(train_cells)
    models: dict[str, torch.nn.Module] = preds | ({"generator": vae} if tcfg.train_generator else {})
    opts = {k: torch.optim.AdamW(m.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay) for k, m in models.items()}
    start, best, history = 0, {k: float("nan") for k in models}, []
    if tcfg.resume and (state := files.resume(models, opts, gen)) is not None:
        start, best, history = state
        print(f"resumed from {files.last_path} at epoch {start}/{tcfg.epochs + tcfg.generator_epochs}")

    # The prior's own task (NB201's table) is in every predictor batch: its embedding anchors the
    # dataset term (models/predictor.py).
    table = next((t for t in train_t if t.recipe == TABLE_RECIPE), None)
    pred_epochs = tcfg.epochs if preds else 0
    gen_epochs = tcfg.generator_epochs if "generator" in models else 0
    teacher: tuple[MetaPredictor, CellBank] | None = None

    def generator_loss(batch: list[TaskTensors]) -> dict[str, torch.Tensor]:
        if teacher is not None:
            return vae.loss(**distill_batch(*teacher, batch, tcfg, gen))
        unlabelled = tcfg.unlabelled_cells if model_cfg.g2g_weight > 0 else 0
        return vae.loss(**generator_batch(batch, tcfg.samples_per_class, gen, all_cells, unlabelled,
                                          with_cells=model_cfg.gen_rank_weight > 0))

    t0, done = time.time(), start
    for epoch in range(start, pred_epochs + gen_epochs):
        te = time.time()
        phase = "predictor" if epoch < pred_epochs else "generator"
        lr = tcfg.lr_at(epoch, pred_epochs) if phase == "predictor" else tcfg.lr_at(epoch - pred_epochs, gen_epochs)
        for opt in opts.values():
            for g in opt.param_groups:
                g["lr"] = lr
        row: dict[str, float] = {"epoch": epoch + 1, "lr": lr}

        if phase == "predictor":
            # step
            for key, m in preds.items():
                losses = run_epoch(m, opts[key], train_t, lambda b, m=m: predictor_step(m, b, table, tcfg, gen),
                                   tcfg, gen)
                row |= {f"{key}/{k}": v for k, v in losses.items()}
            # evaluate, select, save the best
            if (epoch + 1) % tcfg.eval_every == 0 or epoch + 1 == pred_epochs:
                for key, m in preds.items():
                    set_reference(m, table, tcfg.samples_per_class)
                    r = ranking_metrics(predict_tasks(m, valid_t, tcfg.samples_per_class), valid_t)
                    row |= {f"val/{key}_kendall": r["kendall"], f"val/{key}_spearman": r["spearman"]}
                    if _improved(best[key], r["kendall"]):
                        best[key] = r["kendall"]
                        files.export(key, m, epoch + 1, {"val_kendall": r["kendall"], "val_spearman": r["spearman"]})
        else:
            if teacher is None and tcfg.generator_targets == "predictor":
                teacher = _teacher(files, preds)
                if teacher is None:
                    print("warning: no trained predictor to take targets from: the generator learns each task's "
                          "best evaluated cells")
            # step
            losses = run_epoch(vae, opts["generator"], train_t, generator_loss, tcfg, gen)
            row |= {f"gen/{k}": v for k, v in losses.items()}
            # evaluate, select, save the best
            if (epoch + 1) % tcfg.eval_every == 0 or epoch + 1 == pred_epochs + gen_epochs:
                tau, nll = generator_scores(vae, valid_t, tcfg.samples_per_class)
                row |= {"val/generator_kendall": tau, "val/generator_nll": nll}
                metric = tau
                if teacher is not None:
                    metric = generator_recall(vae, *teacher, valid_t, tcfg.samples_per_class)
                    row["val/generator_recall"] = metric
                if _improved(best["generator"], metric):
                    best["generator"] = metric
                    files.export("generator", vae, epoch + 1, {"val_kendall": tau, "val_nll": nll} | (
                        {"val_recall": metric} if teacher is not None else {}))
        row["time/epoch_s"] = time.time() - te
        history.append(row)
        logger.log(row, step=epoch + 1)
        print(epoch_line(row), flush=True)

        # save the run's state
        files.save_last(models, opts, gen, epoch + 1, best, history)
        done = epoch + 1
        if tcfg.time_limit_min and time.time() - t0 > 60 * tcfg.time_limit_min and done < pred_epochs + gen_epochs:
            print(f"stopping after {(time.time() - t0) / 60:.1f} min (trainer.time_limit_min); rerun to resume")
            break
    return TrainResult(files.out_dir, done - start, best, history)


def _teacher(files: RunFiles, preds: Mapping[str, MetaPredictor]) -> tuple[MetaPredictor, CellBank] | None:
    """The selected (exported) dataset-conditioned predictor and its encoding of every unique cell."""
    path = files.out_dir / EXPORT_FILES["predictor"]
    if not path.exists():
        return None
    model, _ = load_predictor(path)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, CellBank.build(model)
