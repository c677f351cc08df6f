# Local stand-in for the official node:22-bookworm-slim image, for machines that cannot reach an image
# registry: Debian bookworm (itself a debootstrap stand-in) plus the Node 22 binary from npm.
FROM debian:bookworm-slim
COPY bin/node /usr/local/bin/node
CMD ["node"]
