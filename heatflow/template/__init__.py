"""The HOT template language: parsing, parameters, functions, validation.

Public names: :class:`Template` (load/parse), :class:`Limits`, and what
``Template.bind`` returns: :class:`StackDefinition` with its
:class:`ResourceDefinition` and :class:`OutputDefinition` entries; and, for
a stored template (HOT or CloudFormation) read without parsing it,
:func:`resource_types`, :func:`parameter_defaults` and
:func:`hidden_parameters`.
"""

from heatflow.template.loader import Limits
from heatflow.template.template import (OutputDefinition, ResourceDefinition,
                                        StackDefinition, Template)
from heatflow.template.dependencies import topological_order, find_cycle
from heatflow.template.cfn import (hidden_parameters, parameter_defaults,
                                   resource_types)

__all__ = ["Template", "Limits", "StackDefinition", "ResourceDefinition",
           "OutputDefinition", "topological_order", "find_cycle",
           "hidden_parameters", "parameter_defaults", "resource_types"]
