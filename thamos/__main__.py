"""``python -m thamos`` runs the thamos command."""

from .cli import run

if __name__ == "__main__":
    run()
