"""The commands, one module per command or per pair that share options and helpers.

Each module holds plain click commands; `chairside.cli` adds them to its group. Options
that several commands take are in `chairside.commands.options`.
"""
