"""sb3_distill: oracle policy distillation for Stable-Baselines3 on order execution."""

from sb3_distill.callbacks import BestOnValidation
from sb3_distill.distill_ppo import DistillRecurrentPPO
from sb3_distill.policies import IgnoreKeysExtractor, StudentGruPolicy, StudentLstmPolicy, TeacherPolicy
from sb3_distill.teachers import OracleTeacher, PolicyTeacher, Teacher
from sb3_distill.training import train, train_dqn, train_ppo, train_student, train_teacher
from sb3_distill.vec_env import OrderExecutionVecEnv

__all__ = [
    "BestOnValidation",
    "DistillRecurrentPPO",
    "IgnoreKeysExtractor",
    "OracleTeacher",
    "OrderExecutionVecEnv",
    "PolicyTeacher",
    "StudentGruPolicy",
    "StudentLstmPolicy",
    "Teacher",
    "TeacherPolicy",
    "train",
    "train_dqn",
    "train_ppo",
    "train_student",
    "train_teacher",
]
