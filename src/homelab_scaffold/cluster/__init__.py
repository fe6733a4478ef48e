"""Talking to a cluster: the commands ``scaffold bootstrap`` runs and the checks before them.

Nothing here prints: functions return commands, outcomes and progress events, and raise
ScaffoldErrors; ``commands/bootstrap.py`` reports them.
"""
