"""scaffold: generate and maintain an ArgoCD App-of-Apps GitOps repository for a homelab."""

__version__ = "0.1.0"
