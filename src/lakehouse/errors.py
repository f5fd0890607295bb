"""Errors a user can cause and fix: shown as one line, never as a traceback."""


class UserError(Exception):
    """A problem with the user's input (config, paths, files, arguments); the message says what to do."""
