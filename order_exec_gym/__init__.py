"""order_exec_gym: optimal order execution as a Gymnasium environment.

Importing the package registers ``"OrderExec-v0"`` (single env, with the batched
:class:`~order_exec_gym.vector.OrderExecutionVectorEnv` as its ``vector_entry_point``).
"""

from gymnasium.envs.registration import register

from order_exec_gym.config import DEFAULT_LEVELS, PAPER_CONFIG, PAPER_LEVELS, ExecutionConfig
from order_exec_gym.data.dataset import MarketDataset
from order_exec_gym.env import OrderExecutionEnv
from order_exec_gym.errors import DataError
from order_exec_gym.orders import Order, Orders
from order_exec_gym.vector import OrderExecutionVectorEnv

__version__ = "0.2.0"

register(
    id="OrderExec-v0",
    entry_point="order_exec_gym.env:OrderExecutionEnv",
    vector_entry_point="order_exec_gym.vector:OrderExecutionVectorEnv",
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
