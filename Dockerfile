# One image for every service of docker-compose.yml: `minik <component>` (the entrypoint), plus etcd
# and Debian's docker-registry, which the compose file runs from this same image so a cluster needs
# nothing but Debian 12 packages and this repository, exactly like `make deps`.
FROM debian:bookworm

# The Makefile's APT_PACKAGES minus docker-compose (a test tool, not needed to run a cluster);
# tests/unit/test_compose.py fails when the two lists drift apart.
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        etcd-server iptables iproute2 busybox-static python3-venv conntrack skopeo docker-registry runc openssl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/minik/src
COPY . .
RUN python3 -m venv /opt/minik/venv \
    && /opt/minik/venv/bin/pip install --no-cache-dir --disable-pip-version-check . \
    && mkdir -p /etc/minik/cluster

ENV PATH=/opt/minik/venv/bin:$PATH
ENTRYPOINT ["minik"]
CMD ["--help"]
