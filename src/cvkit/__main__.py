"""``python -m cvkit``."""

from cvkit.cli import main

if __name__ == "__main__":
    main()
