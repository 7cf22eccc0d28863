"""Date, time and number formats of the interface, one module per language.

Django looks here first (``FORMAT_MODULE_PATH``) and falls back to its own
locale formats for anything a module leaves out, such as the input formats.
Clinical staff read dates across sites and languages, so a date always names
its month and times are always on the 24-hour clock.
"""
