"""Meta-training of the generator (graph VAE) and the meta-predictors over ``list[TaskData]``.

One straight loop; each epoch runs, in order:

    1. a generator epoch    (GraphVAE.loss on batches of train tasks and their target cells)
    2. a predictor epoch    (regression + within-task ranking, dataset-conditioned)
    3. an agnostic epoch    (the same predictor with a learned constant instead of the dataset)
    4. validation on the valid-split tasks: mean within-task Kendall tau for each predictor
       (not pooled Pearson, which mostly rewards predicting task difficulty), and for the
       generator the within-task Kendall tau between log p(cell | dataset) and accuracy
    5. export of each model whose validation metric improved, then ``last.pt`` for resuming

Everything random draws from one ``torch.Generator`` whose state is checkpointed, so a resumed
run continues the same sample stream.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from metad2a.database.task_data import TaskData
from metad2a.errors import CheckpointError, DataError
from metad2a.metrics import kendall_tau, spearman
from metad2a.models.cell_features import unique_node_types
from metad2a.models.config import ModelConfig
from metad2a.models.graph_encoder import encode_archs
from metad2a.models.graph_vae import GraphVAE, reconstruction_nll
from metad2a.models.predictor import MetaPredictor
from metad2a.models.set_encoder import pad_features
from metad2a.space import all_archs
from metad2a.training import checkpoint as ckpt_io
from metad2a.training.generator_targets import select_targets
from metad2a.training.logging import NullLogger
from metad2a.training.losses import ranking_loss, regression_loss


@dataclass
class TrainerConfig:
    """Loop settings (mirrors ``conf/trainer/default.yaml``)."""

    epochs: int = 150
    batch_tasks: int = 8
    lr: float = 1e-3
    min_lr_frac: float = 0.1  # cosine decay from lr to lr * min_lr_frac
    weight_decay: float = 1e-4
    grad_clip: float = 5.0
    samples_per_class: int = 20  # a fresh random subset of each class's samples every step
    unlabelled_cells: int = 128  # uniform NB201 cells per generator step (graph->graph term)
    top_k: int = 5  # generator targets: see training/generator_targets.py
    top_frac: float = 0.2
    target_temperature: float = 1.0
    train_generator: bool = True
    train_predictor: bool = True
    train_agnostic: bool = True  # the dataset-agnostic baseline predictor
    eval_every: int = 1
    resume: bool = True  # continue from <checkpoint_dir>/last.pt when it exists
    time_limit_min: float | None = None  # stop (resumably) after this much wall time
    num_threads: int | None = None
    device: str = "cpu"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainerConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(d).items() if k in names})


@dataclass
class TaskTensors:
    """One task, ready for the models. features (C, N, D); node_type (n, 8); acc (n,) in [0, 1]."""

    task: TaskData
    features: torch.Tensor
    node_type: torch.Tensor
    acc: torch.Tensor
    target_type: torch.Tensor  # (k, 8)
    target_weight: torch.Tensor  # (k,)


def prepare_tasks(tasks: Sequence[TaskData], tcfg: TrainerConfig, device: str = "cpu") -> list[TaskTensors]:
    out = []
    for t in tasks:
        archs, w = select_targets(t.archs, t.accs, tcfg.top_k, tcfg.top_frac, tcfg.target_temperature)
        out.append(TaskTensors(
            task=t,
            features=torch.as_tensor(np.asarray(t.features, dtype=np.float32), device=device),
            node_type=encode_archs(t.archs).to(device),
            acc=torch.as_tensor(np.asarray(t.accs, dtype=np.float32) / 100.0, device=device),
            target_type=encode_archs(archs).to(device),
            target_weight=torch.as_tensor(w, dtype=torch.float32, device=device),
        ))
    return out


def feature_batch(batch: Sequence[TaskTensors], samples_per_class: int | None, gen: torch.Generator | None = None):
    """Padded (B, C, N, D) features and mask; a random subset of samples per class when ``gen`` is given,
    otherwise the first ``samples_per_class`` (deterministic, for validation)."""
    sets = []
    for t in batch:
        f, n = t.features, t.features.shape[1]
        k = n if not samples_per_class else min(samples_per_class, n)
        if k < n:
            idx = torch.randperm(n, generator=gen)[:k] if gen is not None else torch.arange(k)
            f = f[:, idx.to(f.device)]
        sets.append(f)
    return pad_features(sets)


def _cells_of(batch: Sequence[TaskTensors]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenated (M, 8) node types, (M,) accuracies and (M,) task index into the batch."""
    node_type = torch.cat([t.node_type for t in batch])
    acc = torch.cat([t.acc for t in batch])
    index = torch.cat([torch.full((len(t.acc),), b, dtype=torch.long) for b, t in enumerate(batch)]).to(acc.device)
    return node_type, acc, index


def predictor_loss(model: MetaPredictor, batch: Sequence[TaskTensors], tcfg: TrainerConfig,
                   gen: torch.Generator | None) -> dict[str, torch.Tensor]:
    cfg = model.cfg
    x, mask = feature_batch(batch, tcfg.samples_per_class, gen)
    node_type, acc, index = _cells_of(batch)
    pred = model(model.embed_dataset(x, mask), node_type, index)
    reg, rank = regression_loss(pred, acc), ranking_loss(cfg.rank_loss, pred, acc, index)
    return {"loss": cfg.reg_weight * reg + cfg.rank_weight * rank, "mse": reg, "rank": rank}


def generator_loss(vae: GraphVAE, batch: Sequence[TaskTensors], tcfg: TrainerConfig, all_cells: torch.Tensor,
                   gen: torch.Generator | None) -> dict[str, torch.Tensor]:
    x, mask = feature_batch(batch, tcfg.samples_per_class, gen)
    tt = torch.cat([t.target_type for t in batch])
    tw = torch.cat([t.target_weight for t in batch])
    ti = torch.cat([torch.full((len(t.target_weight),), b, dtype=torch.long) for b, t in enumerate(batch)])
    ti = ti.to(tt.device)
    extra = None
    if tcfg.unlabelled_cells > 0 and vae.cfg.g2g_weight > 0:
        extra = all_cells[torch.randint(len(all_cells), (tcfg.unlabelled_cells,), generator=gen).to(all_cells.device)]
    cells = None
    if vae.cfg.gen_rank_weight > 0:
        node_type, acc, index = _cells_of(batch)
        cells = (node_type, index, acc)
    return vae.loss(x, mask, tt, ti, tw, extra, cells=cells, generator=gen)


def _batches(n: int, size: int, gen: torch.Generator) -> list[list[int]]:
    perm = torch.randperm(n, generator=gen).tolist()
    return [perm[i : i + size] for i in range(0, n, size)]


def run_epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, tasks: Sequence[TaskTensors], loss_fn,
              tcfg: TrainerConfig, gen: torch.Generator) -> dict[str, float]:
    """One pass over ``tasks`` in random batches; returns the mean of each loss term."""
    model.train()
    sums: dict[str, float] = {}
    batches = _batches(len(tasks), tcfg.batch_tasks, gen)
    for idx in batches:
        out = loss_fn([tasks[i] for i in idx])
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        if tcfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        opt.step()
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
    return {k: v / len(batches) for k, v in sums.items()}


@torch.no_grad()
def predict_tasks(model: MetaPredictor, tasks: Sequence[TaskTensors], samples_per_class: int | None,
                  batch_tasks: int = 16) -> list[np.ndarray]:
    """Predicted accuracy (%) of each task's evaluated cells, deterministic features."""
    model.eval()
    out = []
    for s in range(0, len(tasks), batch_tasks):
        batch = tasks[s : s + batch_tasks]
        x, mask = feature_batch(batch, samples_per_class)
        node_type, _, index = _cells_of(batch)
        pred = 100.0 * model(model.embed_dataset(x, mask), node_type, index)
        out += [p.cpu().numpy() for p in pred.split([len(t.acc) for t in batch])]
    return out


def ranking_metrics(preds: Sequence[np.ndarray], tasks: Sequence[TaskTensors]) -> dict[str, float]:
    """Mean within-task Kendall tau and Spearman (nan tasks, e.g. constant truth, are skipped)."""
    taus = [kendall_tau(p, t.task.accs) for p, t in zip(preds, tasks)]
    rhos = [spearman(p, t.task.accs) for p, t in zip(preds, tasks)]
    return {"kendall": float(np.nanmean(taus)) if not np.all(np.isnan(taus)) else float("nan"),
            "spearman": float(np.nanmean(rhos)) if not np.all(np.isnan(rhos)) else float("nan")}


@torch.no_grad()
def generator_scores(vae: GraphVAE, tasks: Sequence[TaskTensors], samples_per_class: int | None,
                     batch_tasks: int = 16) -> tuple[float, float]:
    """How well the generator fits held-out tasks, decoding from z = mu(D).

    Returns (kendall, nll): the mean within-task Kendall tau between log p(cell | mu(D)) and
    the cells' true accuracy over each task's evaluated cells, and the mean weighted NLL of
    the task's targets. Kendall is the selection metric: target NLL on unseen tasks rewards a
    generator that hedges towards uniform, while the ranking rewards putting its mass on the
    cells that are good for that dataset.
    """
    vae.eval()
    taus, nll = [], 0.0
    for s in range(0, len(tasks), batch_tasks):
        batch = tasks[s : s + batch_tasks]
        x, mask = feature_batch(batch, samples_per_class)
        mu, _ = vae.encode_dataset(x, mask)
        for b, t in enumerate(batch):
            logits, _ = vae.decoder(mu[b : b + 1].expand(len(t.target_weight), -1), t.target_type)
            nll += float((t.target_weight * reconstruction_nll(logits, t.target_type)).sum())
            logits, _ = vae.decoder(mu[b : b + 1].expand(len(t.acc), -1), t.node_type)
            taus.append(kendall_tau(-reconstruction_nll(logits, t.node_type).cpu().numpy(), t.task.accs))
    taus_arr = np.array(taus, dtype=float)
    kendall = float(np.nanmean(taus_arr)) if not np.all(np.isnan(taus_arr)) else float("nan")
    return kendall, nll / max(len(tasks), 1)


def _lr_at(epoch: int, tcfg: TrainerConfig) -> float:
    frac = 0.5 * (1.0 + math.cos(math.pi * epoch / max(tcfg.epochs, 1)))
    return tcfg.lr * (tcfg.min_lr_frac + (1.0 - tcfg.min_lr_frac) * frac)


@dataclass
class TrainResult:
    """Where the exports went and the best validation metrics."""

    checkpoint_dir: Path
    epochs_run: int
    best: dict[str, float]
    history: list[dict[str, float]]


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
    if tcfg.num_threads:
        torch.set_num_threads(tcfg.num_threads)
    train = [t for t in tasks if t.split == "train"]
    valid = [t for t in tasks if t.split == "valid"]
    if not train:
        raise DataError("no tasks with split='train' in the meta-training data: "
                        "check data= (the database's task splits)")
    bad = {t.features.shape[-1] for t in tasks} - {model_cfg.feat_dim}
    if bad:
        raise DataError(f"task features have dim {sorted(bad)} but model.feat_dim={model_cfg.feat_dim}: "
                        f"set model.feat_dim={sorted(bad)[0]} (512 for ResNet18, 1280 for EfficientNet-Lite0)")
    if not valid:
        print("warning: no valid-split tasks; selecting checkpoints on the train tasks")
        valid = train

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev = tcfg.device
    train_t, valid_t = prepare_tasks(train, tcfg, dev), prepare_tasks(valid, tcfg, dev)
    all_cells = encode_archs(all_archs()).to(dev)
    fingerprint = ckpt_io.data_fingerprint(tasks)
    config = dict(config or {"model": model_cfg.to_dict(), "trainer": asdict(tcfg), "seed": seed})
    out_dir = Path(checkpoint_dir)

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
    models: dict[str, torch.nn.Module] = {"generator": vae, **preds}
    if not tcfg.train_generator:
        models.pop("generator")
    opts = {k: torch.optim.AdamW(m.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay) for k, m in models.items()}
    best = {k: float("nan") for k in models}
    start, history = 0, []

    last_path = out_dir / ckpt_io.LAST_FILE
    if tcfg.resume and last_path.exists():
        state = ckpt_io.load_checkpoint(last_path, "train_state")
        if state["data_fingerprint"] != fingerprint:
            raise CheckpointError(f"{last_path} was trained on different data: set trainer.resume=false to start over, "
                                  "or checkpoint_dir=<new folder>")
        if state["model_config"] != model_cfg.to_dict() or set(state["states"]) != set(models):
            raise CheckpointError(f"{last_path} was trained with a different model config: set trainer.resume=false "
                                  "to start over, or checkpoint_dir=<new folder>")
        for k, m in models.items():
            m.load_state_dict(state["states"][k])
            opts[k].load_state_dict(state["optimizers"][k])
        gen.set_state(state["rng"])
        start, best, history = int(state["epoch"]), dict(state["best"]), list(state["history"])
        print(f"resumed from {last_path} at epoch {start}/{tcfg.epochs}")

    def export(kind: str, key: str, epoch: int, metrics: dict) -> None:
        mc = model_cfg.to_dict() | ({"agnostic": key == "agnostic"} if kind == "predictor" else {})
        file = {"generator": ckpt_io.GENERATOR_FILE, "predictor": ckpt_io.PREDICTOR_FILE,
                "agnostic": ckpt_io.AGNOSTIC_FILE}[key]
        ckpt_io.save_checkpoint(out_dir / file, ckpt_io.make_checkpoint(
            kind, model_config=mc, config=config, data_fingerprint=fingerprint,
            state_dict=models[key].state_dict(), epoch=epoch, metrics=metrics))

    t0, done = time.time(), start
    for epoch in range(start, tcfg.epochs):
        te = time.time()
        for opt in opts.values():
            for g in opt.param_groups:
                g["lr"] = _lr_at(epoch, tcfg)
        row: dict[str, float] = {"epoch": epoch + 1, "lr": _lr_at(epoch, tcfg)}
        if "generator" in models:
            losses = run_epoch(vae, opts["generator"], train_t,
                               lambda b: generator_loss(vae, b, tcfg, all_cells, gen), tcfg, gen)
            row |= {f"gen/{k}": v for k, v in losses.items()}
        for key, m in preds.items():
            losses = run_epoch(m, opts[key], train_t, lambda b, m=m: predictor_loss(m, b, tcfg, gen), tcfg, gen)
            row |= {f"{key}/{k}": v for k, v in losses.items()}

        if (epoch + 1) % tcfg.eval_every == 0 or epoch + 1 == tcfg.epochs:
            for key, m in preds.items():
                r = ranking_metrics(predict_tasks(m, valid_t, tcfg.samples_per_class), valid_t)
                row |= {f"val/{key}_kendall": r["kendall"], f"val/{key}_spearman": r["spearman"]}
                if not math.isnan(r["kendall"]) and (math.isnan(best[key]) or r["kendall"] > best[key]):
                    best[key] = r["kendall"]
                    export("predictor", key, epoch + 1, {"val_kendall": r["kendall"], "val_spearman": r["spearman"]})
            if "generator" in models:
                tau, nll = generator_scores(vae, valid_t, tcfg.samples_per_class)
                row |= {"val/generator_kendall": tau, "val/generator_nll": nll}
                if not math.isnan(tau) and (math.isnan(best["generator"]) or tau > best["generator"]):
                    best["generator"] = tau
                    export("generator", "generator", epoch + 1, {"val_kendall": tau, "val_nll": nll})
        row["time/epoch_s"] = time.time() - te
        history.append(row)
        logger.log(row, step=epoch + 1)
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                       if k == "epoch" or k.startswith("val/") or k.endswith("/loss")), flush=True)
        ckpt_io.save_checkpoint(last_path, ckpt_io.make_checkpoint(
            "train_state", model_config=model_cfg.to_dict(), config=config, data_fingerprint=fingerprint,
            states={k: m.state_dict() for k, m in models.items()},
            optimizers={k: o.state_dict() for k, o in opts.items()},
            rng=gen.get_state(), epoch=epoch + 1, best=best, history=history))
        done = epoch + 1
        if tcfg.time_limit_min and time.time() - t0 > 60 * tcfg.time_limit_min and done < tcfg.epochs:
            print(f"stopping after {(time.time() - t0) / 60:.1f} min (trainer.time_limit_min); rerun to resume")
            break
    return TrainResult(out_dir, done - start, best, history)
