"""A full configuration example (every key), shared by the parser and the settings tests."""

CONFIG_EXAMPLE = """\
# account server
operatorjwtpath: "/etc/nats/op/OP.jwt"
systemaccountjwtpath = /etc/nats/op/accounts/SYS/SYS.jwt
http { host: 0.0.0.0, port: 9090, ReadTimeout: 2000 }
store: { dir: "/var/lib/nas", shard: true }
logging { pid: yes, colors: off }
nats {
  servers: [nats://127.0.0.1:4222, "tls://nats2:4222"]   // two servers
  usercredentials: "/etc/nats/sys.creds"
  reconnectwait: 2k          # = 2000 ms
}
"""
