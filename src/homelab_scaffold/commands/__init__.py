"""One module per command; each exposes a click command that calls one function."""
