"""The account service and the seams it depends on: stores, notifier, source, life cycle.

Nothing here knows HTTP, NATS clients or files; transports call in, implementations plug in.
"""
