"""The names of Heat's engine API (``heat.rpc.api``) that resource plugins
use: the keys of a software config as ``rpc_client()`` gives and takes
it (heatflow/rpc_client.py)."""

SOFTWARE_CONFIG_KEYS = (
    SOFTWARE_CONFIG_ID, SOFTWARE_CONFIG_NAME, SOFTWARE_CONFIG_GROUP,
    SOFTWARE_CONFIG_CONFIG, SOFTWARE_CONFIG_INPUTS, SOFTWARE_CONFIG_OUTPUTS,
    SOFTWARE_CONFIG_OPTIONS, SOFTWARE_CONFIG_CREATION_TIME,
    SOFTWARE_CONFIG_PROJECT,
) = (
    "id", "name", "group", "config", "inputs", "outputs", "options",
    "creation_time", "project",
)

#: The types a software config's input or output may declare.
SOFTWARE_CONFIG_IO_TYPES = (
    "String", "Number", "CommaDelimitedList", "Json", "Boolean",
)
