"""The HOT template language: parsing, parameters, functions, validation.

Public names: :class:`Template` (load/parse), :class:`Limits`, and what
``Template.bind`` returns: :class:`StackDefinition` with its
:class:`ResourceDefinition` and :class:`OutputDefinition` entries.
"""

from heatflow.template.loader import Limits
from heatflow.template.template import (OutputDefinition, ResourceDefinition,
                                        StackDefinition, Template)
from heatflow.template.dependencies import topological_order, find_cycle

__all__ = ["Template", "Limits", "StackDefinition", "ResourceDefinition",
           "OutputDefinition", "topological_order", "find_cycle"]
