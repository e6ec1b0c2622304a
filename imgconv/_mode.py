"""How this process uses imgconv: as a one-shot command, or as a long-running library.

The command line sets :data:`ONE_SHOT` (``imgconv filter photo.png ...`` runs once and
exits), so the engine's planner counts the half-second it takes to load the compiled
loops against them. A library user (a notebook, a server, a benchmark) keeps the
default: the loops load on first use, like any JIT-compiled library, and every later
call is fast. Batch runs load them once per worker either way.
"""

ONE_SHOT = [False]
