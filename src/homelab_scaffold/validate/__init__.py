"""``scaffold validate``: check an App-of-Apps repository before ArgoCD sees it.

One module per concern: ``loader`` reads files, ``apps`` models the Applications, the
``checks_*`` modules and ``schemas`` find problems, ``engine`` runs them, ``report`` formats.
"""

from homelab_scaffold.validate.engine import ValidateOptions, validate_repo
from homelab_scaffold.validate.model import Problem, Report

__all__ = ["Problem", "Report", "ValidateOptions", "validate_repo"]
