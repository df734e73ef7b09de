"""sb3_distill: oracle policy distillation for Stable-Baselines3 on order execution."""

from sb3_distill.vec_env import OrderExecutionVecEnv

__all__ = ["OrderExecutionVecEnv"]
