"""The training harness appended to every exported training script (see train_script.py).

Only the text after the HARNESS marker is copied; the stand-ins above it let this file be imported and
checked on its own. The harness needs torch only (torchvision for the torchvision data sets, image
folders and augmentation) and runs under plain `python` or `torchrun` (gloo on CPU, nccl on CUDA).
"""
from torch import nn

MODEL_CLASS = nn.Module   # stand-ins replaced by the generated part of the script
INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10
TASK = "classification"   # or "segmentation", "localization", "detection"
DEFAULTS: dict = {}
# the task part (script_labels.py or script_boxes.py) defines these after the harness's functions
METRIC = LABELS_NEEDED = ""
task_loss = task_counts = task_labels = label_problem = synthetic_data = augment_pair = None

# ---- HARNESS ----
import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset  # noqa: E402
from torch.utils.data.distributed import DistributedSampler  # noqa: E402

DATASETS = ("synthetic", "tensors", "mnist", "fashion_mnist", "cifar10", "folder")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = DEFAULTS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", choices=DATASETS, default=d["dataset"],
                   help="synthetic: generated in memory; tensors: a file saved with torch.save({'images', "
                        "'labels', optional 'test_images', 'test_labels', 'class_names'}); folder: one "
                        "sub-folder of images per class")
    p.add_argument("--data", default=d["data"], help="tensor file, image folder, or download folder")
    p.add_argument("--synthetic-size", type=int, default=d["synthetic_size"], help="images to generate")
    p.add_argument("--epochs", type=int, default=d["epochs"])
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="per process")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default=d["optimizer"])
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--momentum", type=float, default=d["momentum"])
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"])
    p.add_argument("--schedule", choices=("constant", "step", "cosine", "onecycle"), default=d["schedule"])
    p.add_argument("--step-size", type=int, default=d["step_size"], help="epochs between steps (step schedule)")
    p.add_argument("--gamma", type=float, default=d["gamma"], help="factor per step (step schedule)")
    p.add_argument("--val-fraction", type=float, default=d["val_fraction"])
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--grad-clip", type=float, default=d["grad_clip"], help="max gradient norm; 0 = off")
    p.add_argument("--dice-weight", type=float, default=d["dice_weight"],
                   help="segmentation: add this much soft Dice loss to the per-pixel cross-entropy; 0 = off")
    p.add_argument("--early-stopping-patience", type=int, default=d["early_stopping_patience"], help="0 = off")
    p.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction, default=d["mixed_precision"],
                   help="float16 autocast on CUDA")
    p.add_argument("--device", default=d["device"], help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--freeze", nargs="*", default=d["freeze"], help="layers whose weights stay fixed")
    p.add_argument("--crop-padding", type=int, default=d["crop_padding"])
    p.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=d["hflip"])
    p.add_argument("--rotation", type=float, default=d["rotation"])
    p.add_argument("--affine-translate", type=float, default=d["affine_translate"])
    p.add_argument("--affine-scale", type=float, default=d["affine_scale"])
    p.add_argument("--color-jitter", type=float, default=d["color_jitter"])
    p.add_argument("--erasing", type=float, default=d["erasing"])
    p.add_argument("--workers", type=int, default=0, help="data loader worker processes")
    p.add_argument("--out", default="run_output", help="folder for weights and metrics (rank 0 writes)")
    return p.parse_args(argv)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        fail(f"--device {name} asked for CUDA but none is available; use --device cpu")
    return torch.device(name)


def setup_distributed(device_name: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device). torchrun sets WORLD_SIZE, RANK and LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, pick_device(device_name)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


# ---- data ---------------------------------------------------------------------------------------

def tensor_data(path: str) -> tuple[TensorDataset, TensorDataset | None, list[str]]:
    if not path or not os.path.isfile(path):
        fail(f"--dataset tensors needs --data pointing to a tensor file; {path!r} does not exist")
    data = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain lists only
    if not isinstance(data, dict) or "images" not in data or "labels" not in data:
        fail(f"{path} must hold a dict with 'images' (N×C×H×W float) and 'labels' (N int64)")
    images, labels = data["images"].float(), task_labels(data["labels"])
    if tuple(images.shape[1:]) != tuple(INPUT_SHAPE):
        fail(f"{path} holds images of shape {tuple(images.shape[1:])}; this network expects {INPUT_SHAPE}")
    problem = label_problem(labels, len(images))
    if problem:
        fail(f"{path} holds labels of shape {tuple(labels.shape)}; {problem}")
    test = None
    if "test_images" in data:
        test = TensorDataset(data["test_images"].float(), task_labels(data["test_labels"]))
    classes = list(data.get("class_names") or [str(i) for i in range(NUM_CLASSES)])
    return TensorDataset(images, labels), test, classes


def image_transform(gray_source: bool) -> object:  # a torchvision transforms.Compose (imported only when needed)
    from torchvision import transforms
    c, h, w = INPUT_SHAPE
    steps = [transforms.Resize((h, w))]
    if c == 1:
        steps.append(transforms.Grayscale(1))
    elif c == 3 and gray_source:
        steps.append(transforms.Grayscale(3))
    return transforms.Compose(steps + [transforms.ToTensor()])


def torchvision_data(name: str, root: str, rank: int, world: int) -> tuple[Dataset, Dataset, list[str]]:
    try:
        from torchvision import datasets
    except ImportError:
        fail("this data set needs torchvision: pip install torchvision")
    cls = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}[name]
    transform = image_transform(gray_source=name != "cifar10")
    root = root or "data"

    def load(download):
        return (cls(root, train=True, download=download, transform=transform),
                cls(root, train=False, download=download, transform=transform))
    try:
        if rank == 0:
            sets = load(True)  # only one process downloads
        if world > 1:
            dist.barrier()
        if rank != 0:
            sets = load(False)
    except (OSError, RuntimeError) as exc:
        fail(f"cannot load {name} into {root}: {exc}. Without internet, copy the data set there first.")
    return sets[0], sets[1], list(sets[0].classes)


def folder_data(root: str) -> tuple[Dataset, None, list[str]]:
    if not root or not os.path.isdir(root):
        fail(f"--dataset folder needs --data pointing to a folder with one sub-folder per class; got {root!r}")
    from torchvision import datasets
    data = datasets.ImageFolder(root, transform=image_transform(gray_source=False))
    return data, None, list(data.classes)


class Augmented(Dataset):
    """Random changes for training samples only, applied per image."""

    def __init__(self, base, args):
        from torchvision.transforms import v2
        c, h, w = INPUT_SHAPE
        steps = []
        if args.crop_padding:
            steps.append(v2.RandomCrop((h, w), padding=args.crop_padding))
        if args.hflip:
            steps.append(v2.RandomHorizontalFlip())
        if args.rotation:
            steps.append(v2.RandomRotation(args.rotation))
        if args.affine_translate or args.affine_scale:
            steps.append(v2.RandomAffine(0, translate=(args.affine_translate,) * 2 if args.affine_translate else None,
                                         scale=(1 - args.affine_scale, 1 + args.affine_scale) if args.affine_scale else None))
        if args.color_jitter:
            j = args.color_jitter
            steps.append(v2.ColorJitter(brightness=j, contrast=j, saturation=j if c == 3 else 0))
        if args.erasing:
            steps.append(v2.RandomErasing(p=args.erasing))
        self.base, self.transform = base, v2.Compose(steps)

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        return augment_pair(self.transform, x, y)   # masks and boxes move with their images


def augmentation_on(args: argparse.Namespace) -> bool:
    return any((args.crop_padding, args.hflip, args.rotation, args.affine_translate, args.affine_scale,
                args.color_jitter, args.erasing))


def load_data(args: argparse.Namespace, rank: int, world: int) -> tuple[Dataset, Dataset, Dataset, list[str]]:
    """(train, val, test, class names); the validation split is cut from the training pool with the seed."""
    if TASK != "classification" and args.dataset not in ("synthetic", "tensors"):
        fail(f"--dataset {args.dataset} labels whole images; this {TASK} network needs {LABELS_NEEDED}: use "
             f"--dataset tensors (CNN Designer writes one with export --data-out) or synthetic")
    if args.dataset == "synthetic":
        pool, test, classes = synthetic_data(args.synthetic_size, args.seed)
    elif args.dataset == "tensors":
        pool, test, classes = tensor_data(args.data)
    elif args.dataset == "folder":
        pool, test, classes = folder_data(args.data)
    else:
        pool, test, classes = torchvision_data(args.dataset, args.data, rank, world)
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(args.seed + 7919)).tolist()
    n_val = int(round(len(pool) * args.val_fraction)) if len(pool) > 1 else 0
    if test is None:  # no separate test split: hold out as many images as for validation
        n_test = max(1, n_val)
        test, order = Subset(pool, order[:n_test]), order[n_test:]
    val, train = Subset(pool, sorted(order[:n_val])), Subset(pool, sorted(order[n_val:]))
    if augmentation_on(args):
        train = Augmented(train, args)
    return train, val, test, classes


def shard(dataset: Dataset, rank: int, world: int) -> Dataset:
    """Every process evaluates its own slice, with no padding duplicates, so totals are exact."""
    return dataset if world == 1 else Subset(dataset, list(range(rank, len(dataset), world)))


# ---- training -----------------------------------------------------------------------------------

def make_optimizer(params: list[torch.nn.Parameter], args: argparse.Namespace) -> torch.optim.Optimizer:
    if args.optimizer == "sgd":
        return torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    if args.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    return torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, args: argparse.Namespace,
                   steps_per_epoch: int) -> tuple[torch.optim.lr_scheduler.LRScheduler | None, bool]:
    """(scheduler, steps per batch?) — one-cycle steps every batch, the others every epoch."""
    if args.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, args.step_size, args.gamma), False
    if args.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs), False
    if args.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                   steps_per_epoch=max(1, steps_per_epoch)), True
    return None, False


def summed(values: list[float], device: torch.device, world: int) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(t)
    return t.tolist()


def evaluate(model: torch.nn.Module, loader: DataLoader, device: torch.device, world: int,
             use_amp: bool) -> tuple[float, float]:
    """(mean loss, the task's metric) over all processes' shards."""
    model.eval()
    loss_sum = correct = count = checked = 0.0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                logits = model(images)
            loss_sum += task_loss(logits.float(), labels, 0.0, reduction="sum").item()
            n, right, counted = task_counts(logits, labels)
            count, correct, checked = count + n, correct + right, checked + counted
    loss_sum, correct, count, checked = summed([loss_sum, correct, count, checked], device, world)
    return (loss_sum / count, correct / max(checked, 1)) if count else (float("nan"), float("nan"))


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def save_state(model: torch.nn.Module, path: str) -> None:
    torch.save({k: v.detach().cpu() for k, v in unwrap(model).state_dict().items()}, path)


def train(args: argparse.Namespace, rank: int, world: int, device: torch.device) -> None:
    seed_everything(args.seed)
    train_set, val_set, test_set, classes = load_data(args, rank, world)
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=args.seed) if world > 1 else None
    pin = device.type == "cuda"
    train_loader = DataLoader(train_set, args.batch_size, shuffle=sampler is None, sampler=sampler,
                              num_workers=args.workers, pin_memory=pin,
                              generator=torch.Generator().manual_seed(args.seed))
    val_loader = DataLoader(shard(val_set, rank, world), args.batch_size, num_workers=args.workers, pin_memory=pin)
    test_loader = DataLoader(shard(test_set, rank, world), args.batch_size, num_workers=args.workers, pin_memory=pin)

    model = MODEL_CLASS().to(device)
    for name in args.freeze:   # module paths such as layer1.0.conv1, or a weight of its own (layer_scale)
        try:
            frozen = list(model.get_submodule(name).parameters())
        except AttributeError:
            frozen = [model.get_parameter(name)]
        for p in frozen:
            p.requires_grad_(False)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if pin else None)
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], args)
    scheduler, per_batch = make_scheduler(optimizer, args, len(train_loader))
    use_amp = args.mixed_precision and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        print(f"training on {device} x{world}: {len(train_set)} train, {len(val_set)} val, {len(test_set)} test images")
    history, best, since_best = [], math.inf, 0
    for epoch in range(1, args.epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)
        model.train()
        started, loss_sum, correct, count, checked = time.time(), 0.0, 0.0, 0.0, 0.0
        for images, labels in train_loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                logits = model(images)
                loss = task_loss(logits, labels, args.dice_weight)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if args.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None and per_batch:
                scheduler.step()
            n, right, counted = task_counts(logits.detach(), labels)
            loss_sum += loss.item() * n
            count, correct, checked = count + n, correct + right, checked + counted
        if scheduler is not None and not per_batch:
            scheduler.step()
        loss_sum, correct, count, checked = summed([loss_sum, correct, count, checked], device, world)
        train_loss, train_acc = loss_sum / max(count, 1), correct / max(checked, 1)
        val_loss, val_acc = evaluate(model, val_loader, device, world, use_amp) if len(val_set) else (train_loss, train_acc)
        history.append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                        "val_loss": val_loss, "val_accuracy": val_acc, "seconds": time.time() - started})
        improved = val_loss < best
        best, since_best = (val_loss, 0) if improved else (best, since_best + 1)
        if rank == 0:
            print(f"epoch {epoch}/{args.epochs}: train loss {train_loss:.4f} {METRIC} {train_acc:.3f} | "
                  f"val loss {val_loss:.4f} {METRIC} {val_acc:.3f}", flush=True)
            save_state(model, os.path.join(args.out, "last.pt"))
            if improved:
                save_state(model, os.path.join(args.out, "best.pt"))
        if args.early_stopping_patience and since_best >= args.early_stopping_patience:
            if rank == 0:
                print(f"early stop: no better validation loss for {since_best} epochs")
            break  # every process sees the same reduced val loss, so all stop together
    test_loss, test_acc = evaluate(model, test_loader, device, world, use_amp)
    if rank == 0:
        save_state(model, os.path.join(args.out, "weights.pt"))
        with open(os.path.join(args.out, "metrics.json"), "w") as f:
            json.dump({"epochs": history, "task": TASK, "metric": METRIC, "test_loss": test_loss,
                       "test_accuracy": test_acc,
                       "class_names": classes, "world_size": world, "args": vars(args)}, f, indent=1)
        print(f"test loss {test_loss:.4f} {METRIC} {test_acc:.3f}; weights in {args.out}/weights.pt")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rank, world, device = setup_distributed(args.device)
    try:
        train(args, rank, world, device)
    finally:
        if world > 1 and dist.is_initialized():
            dist.barrier()  # let every process finish its last collective before the group goes away
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
