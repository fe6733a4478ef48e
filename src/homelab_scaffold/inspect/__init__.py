"""Reading a repository without changing it: ``scaffold validate`` (its checks, the loader, the
report), drift against a fresh render, and ``scaffold outdated``."""
