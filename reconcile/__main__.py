"""``python -m reconcile`` runs the command-line interface."""

from reconcile.cli import main

if __name__ == "__main__":
    main()
