"""The front ends: the command line (cli.py) and, later, the Textual app."""
