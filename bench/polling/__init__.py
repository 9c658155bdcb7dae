"""The polling baseline, alone in its folder: the CodeUri the local cloud hosts it from."""
