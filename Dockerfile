# nats-account-server container image: the README's install steps in a slim Python image.
#
#   docker build -t nats-account-server .
#   docker run -d -p 9090:9090 --ulimit nofile=65536:65536 \
#     -v nas-store:/var/lib/nats-account-server \
#     -v /srv/nats-account-server:/etc/nats-account-server:ro nats-account-server
#
# The mounted directory holds server.conf and the files it names (deploy/server.conf is the
# default: operator.jwt, SYS.jwt, sys.creds and tls/), readable by uid 10001.
FROM python:3.11-slim-bookworm

# The service user, and the store directory it owns (a volume, below).
RUN groupadd --system --gid 10001 nats-account-server \
 && useradd --system --uid 10001 --gid nats-account-server --no-create-home \
      --home-dir /var/lib/nats-account-server --shell /usr/sbin/nologin nats-account-server \
 && install -d -m 0750 -o nats-account-server -g nats-account-server /var/lib/nats-account-server

# The README's install: a virtual environment and `pip install .` of this repository.
WORKDIR /usr/src/nats-account-server
COPY pyproject.toml README.md ./
COPY src ./src
RUN python3 -m venv /opt/nats-account-server && /opt/nats-account-server/bin/pip install -q --no-cache-dir .
ENV PATH=/opt/nats-account-server/bin:$PATH

COPY deploy/server.conf /etc/nats-account-server/server.conf
COPY deploy/healthcheck.py /usr/local/lib/nats-account-server/healthcheck.py

USER 10001:10001
WORKDIR /var/lib/nats-account-server
VOLUME ["/var/lib/nats-account-server"]
EXPOSE 9090
# SIGTERM stops the server cleanly (exit status 0); `docker kill -s HUP` reloads server.conf.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "/usr/local/lib/nats-account-server/healthcheck.py"]
CMD ["nats-account-server", "-c", "/etc/nats-account-server/server.conf"]
