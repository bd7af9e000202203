"""Shared test harness: free ports, process runners for our server and nats-server, trust material."""
