"""Training: the loop, checkpoints, seeding."""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .distributed import (DistributedEnv, DistributedError, distributed_loader,
                          distributed_session, init_distributed, is_distributed, is_main_process,
                          rank, read_env, shard_model, shutdown, world_size)
from .seed import seed_everything
from .trainer import NonFiniteLossError, Trainer

__all__ = ["Trainer", "NonFiniteLossError", "CheckpointError", "save_checkpoint",
           "load_checkpoint", "seed_everything"]
__all__ += ["init_distributed", "shutdown", "distributed_session", "read_env", "DistributedEnv",
            "DistributedError", "is_distributed", "is_main_process", "world_size", "rank",
            "distributed_loader", "shard_model"]
from .sampling import (SAMPLERS, ClusterBatches, NeighborBatches, SubgraphBatches,
                       build_sampler, cluster_partition)

__all__ += ["NeighborBatches", "SubgraphBatches", "ClusterBatches", "cluster_partition",
            "build_sampler", "SAMPLERS"]
