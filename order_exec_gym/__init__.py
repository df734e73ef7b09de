"""order_exec_gym: optimal order execution as a Gymnasium environment.

Importing the package registers ``"OrderExec-v1"``, the learnable default task (a public signal, rewards x100,
order-sized levels: :data:`~order_exec_gym.env.V1_KWARGS`), and ``"OrderExec-v0"``, the env's own defaults (the
signal-free synthetic market); both are single envs with the batched
:class:`~order_exec_gym.vector.OrderExecutionVectorEnv` as their ``vector_entry_point``.
"""

from gymnasium.envs.registration import register

from order_exec_gym.config import DEFAULT_LEVELS, PAPER_CONFIG, PAPER_LEVELS, ExecutionConfig
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.env import V1_KWARGS, OrderExecutionEnv
from order_exec_gym.errors import DataError
from order_exec_gym.orders import Order, Orders
from order_exec_gym.vector import OrderExecutionVectorEnv

__version__ = "0.2.0"

register(
    id="OrderExec-v0",
    entry_point="order_exec_gym.env:OrderExecutionEnv",
    vector_entry_point="order_exec_gym.vector:OrderExecutionVectorEnv",
)
register(
    id="OrderExec-v1",
    entry_point="order_exec_gym.env:OrderExecutionEnv",
    vector_entry_point="order_exec_gym.vector:OrderExecutionVectorEnv",
    kwargs=dict(V1_KWARGS),
)

__all__ = [
    "DEFAULT_LEVELS",
    "PAPER_CONFIG",
    "PAPER_LEVELS",
    "DataError",
    "ExecutionConfig",
    "MarketDataset",
    "Order",
    "Orders",
    "OrderExecutionEnv",
    "OrderExecutionVectorEnv",
]
