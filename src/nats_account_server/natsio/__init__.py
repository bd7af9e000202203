"""The NATS side: notifications, update subscriptions, lookup/pack responders and the JWT sync."""

from nats_account_server.natsio.bridge import NatsBridge

__all__ = ["NatsBridge"]
