"""The synapse population as a cellular automaton: space-time diagrams, occupancy, automata, rule names,
damage, information.

Every synapse is a cell whose state is its memory (last actions, last rewards) and
whose update rule is the shared greedy policy; the global reward couples all cells.
Since every synapse remembers the same rewards, only a few states are occupied at a
time: the population is a state-occupancy distribution driven by the broadcast.
These functions return plain data (NumPy arrays, networkx graphs, dataclasses) and
each ``plot_*`` helper draws that data on matplotlib Axes the caller owns (as in
CellPyLib), so nothing here chooses a backend or opens a window.

Actions are coded 0 = decrement, 1 = keep, 2 = increment throughout.

One module per family, every name importable from here:

* :mod:`.spacetime`: recording actions, space-time diagrams, action mix, entropy across synapses, transitions;
* :mod:`.occupancy`: recording states, state occupancy per step, the occupancy space-time with the reward strip;
* :mod:`.automaton`: one synapse as an automaton; reachable, visited and tied states; its graph, drawn;
* :mod:`.attractors`: the automaton's cycles and attractors, under one reward or a periodic sequence;
* :mod:`.rulenames`: exact rule numbers and names, canonical names and distances between rules;
* :mod:`.damage`: damage spreading of one perturbation, Derrida maps over several horizons;
* :mod:`.damage_stats`: many single-synapse flips, classified heal / latent / spread;
* :mod:`.info`: per-cell entropy, lagged mutual information, the exploration floor;
* :mod:`.report`: all of the above for one scenario and policy, as a dataclass and as markdown.
"""

from .attractors import *  # noqa: F403
from .automaton import *  # noqa: F403
from .damage import *  # noqa: F403
from .damage_stats import *  # noqa: F403
from .info import *  # noqa: F403
from .occupancy import *  # noqa: F403
from .report import *  # noqa: F403
from .rulenames import *  # noqa: F403
from .spacetime import *  # noqa: F403
