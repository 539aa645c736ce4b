"""Moved to `boxvault.core.env`; kept so code written against the old place still imports."""

from boxvault.core.env import env_bool, env_int, env_list, env_opt, env_path, env_str

__all__ = ["env_bool", "env_int", "env_list", "env_opt", "env_path", "env_str"]
