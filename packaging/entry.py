"""The built program's entry point: PyInstaller starts this file (see build.spec)."""
import multiprocessing
import sys

from deformity_app.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a library that spawns workers must not re-run the program
    sys.exit(main())
