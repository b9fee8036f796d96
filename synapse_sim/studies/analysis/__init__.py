"""The synapse population as a cellular automaton: space-time diagrams, entropy, automata, damage, rule names.

Every synapse is a cell whose state is its memory (last actions, last rewards) and
whose update rule is the shared greedy policy; the global reward couples all cells.
These functions return plain data (NumPy arrays, networkx graphs) and each
``plot_*`` helper draws that data on a matplotlib ``Axes`` the caller owns (as in
CellPyLib), so nothing here chooses a backend or opens a window.

Actions are coded 0 = decrement, 1 = keep, 2 = increment throughout.

One module per family: :mod:`.spacetime` (recording, space-time diagrams, action
statistics), :mod:`.automaton` (one synapse as an automaton, rule names) and
:mod:`.damage` (damage spreading, Derrida plots); every name is importable from here.
"""

from .automaton import *  # noqa: F403
from .damage import *  # noqa: F403
from .spacetime import *  # noqa: F403
