"""The shared CPU/GPU layer: devices, seeds, precision, threads, training loop, checkpoints,
data-parallel training and compression, used by every torch trainer in speechlang."""

from speechlang.accel.checkpoint import load_checkpoint, save_checkpoint
from speechlang.accel.device import resolve_device
from speechlang.accel.distributed import DistEnv, init_distributed, shard_indices
from speechlang.accel.loop import TrainConfig, TrainResult, fit, group_batches, index_batches, to_device
from speechlang.accel.precision import Precision, precision_policy
from speechlang.accel.seed import derive_seed, set_seed
from speechlang.accel.threads import set_threads

__all__ = [
    "DistEnv", "Precision", "TrainConfig", "TrainResult", "derive_seed", "fit", "group_batches", "index_batches",
    "init_distributed", "load_checkpoint", "precision_policy", "resolve_device", "save_checkpoint",
    "set_seed", "set_threads", "shard_indices", "to_device",
]
