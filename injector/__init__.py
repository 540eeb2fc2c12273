"""injector: resolve a Pod's Secret references and hand them to a process, never to disk."""

__version__ = "0.1.0"
