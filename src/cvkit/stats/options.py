"""What ``cvkit stats --imbalance`` can be asked for, without numpy.

The CLI builds these options before the statistics run; keeping them (and the method names and defaults) in a
module that imports nothing heavy lets a VOC tree's scan start on worker processes while numpy is still being
imported (see :mod:`cvkit.stats.voc_scan`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: class-balance weight methods, in the order tables and weight files list them
METHODS = ("balanced", "inverse", "sqrt-inverse", "effective", "median-frequency", "repeat-factor")
#: Cui et al.'s effective-number beta
DEFAULT_BETA = 0.999
#: LVIS repeat-factor threshold t
DEFAULT_REPEAT_THRESHOLD = 0.001
#: LVIS frequency groups by images a class appears in: rare <= 10, common <= 100, frequent above
DEFAULT_RARE_MAX = 10
DEFAULT_COMMON_MAX = 100


@dataclass(slots=True)
class ImbalanceOptions:
    """Knobs of ``--imbalance``: counting basis, effective-number beta, LVIS threshold and groups."""

    basis: str = "auto"
    beta: float = DEFAULT_BETA
    threshold: float = DEFAULT_REPEAT_THRESHOLD
    rare_max: int = DEFAULT_RARE_MAX
    common_max: int = DEFAULT_COMMON_MAX
