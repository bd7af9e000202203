"""Allow ``python -m nats_account_server``."""

from nats_account_server.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
