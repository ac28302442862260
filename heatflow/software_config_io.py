"""The inputs and outputs a software config declares (Heat's
``heat.engine.software_config_io``): their property schemas, which
``OS::Heat::SoftwareConfig`` uses for its ``inputs`` and ``outputs``, and
the checks the config store applies to them (heatflow/rpc_client.py)."""

import collections.abc

from heatflow import constraints
from heatflow import exception
from heatflow import properties
from heatflow import rpc_api

(IO_NAME, DESCRIPTION, TYPE, DEFAULT, REPLACE_ON_CHANGE, VALUE,
 ERROR_OUTPUT) = ("name", "description", "type", "default",
                  "replace_on_change", "value", "error_output")

TYPES = (STRING_TYPE, NUMBER_TYPE, LIST_TYPE, JSON_TYPE,
         BOOLEAN_TYPE) = rpc_api.SOFTWARE_CONFIG_IO_TYPES

_P = properties.Schema


def _common(what):
    return {
        IO_NAME: _P(_P.STRING, "Name of the %s." % what, required=True),
        DESCRIPTION: _P(_P.STRING, "Description of the %s." % what),
        TYPE: _P(_P.STRING, "Type of the value of the %s." % what,
                 default=STRING_TYPE,
                 constraints=[constraints.AllowedValues(TYPES)]),
    }


input_config_schema = dict(_common("input"), **{
    DEFAULT: _P(_P.ANY, "Default value for the input if none is "
                "specified."),
    REPLACE_ON_CHANGE: _P(_P.BOOLEAN, "Replace the deployment instead of "
                          "updating it when the input value changes.",
                          default=False),
})

output_config_schema = dict(_common("output"), **{
    ERROR_OUTPUT: _P(_P.BOOLEAN, "Denotes that the deployment is in an "
                     "error state if this output has a value.",
                     default=False),
})


def check_io_schema_list(io_configs):
    """TypeError unless ``io_configs`` is a list of mappings (Heat's)."""
    if isinstance(io_configs, (str, collections.abc.Mapping)) or \
            not isinstance(io_configs, collections.abc.Sequence):
        raise TypeError("Software Config I/O Schema must be in a list")
    if not all(isinstance(c, collections.abc.Mapping) for c in io_configs):
        raise TypeError("Software Config I/O Schema must be a dict")


def normalised(io_configs, schema, path):
    """``io_configs`` checked against ``schema`` and stored as Heat does:
    defaults filled in, unset keys left out (and ``replace_on_change``
    only when true)."""
    check_io_schema_list(io_configs)
    out = []
    for index, config in enumerate(io_configs):
        props = properties.Properties(schema, dict(config),
                                      path=(path, index))
        try:
            props.validate()
        except exception.StackValidationFailed as exc:
            raise ValueError(str(exc)) from None
        item = {k: v for k, v in props.items() if v is not None}
        if item.get(REPLACE_ON_CHANGE) is False:
            del item[REPLACE_ON_CHANGE]
        if VALUE in config:
            item[VALUE] = config[VALUE]
        out.append(item)
    return out
