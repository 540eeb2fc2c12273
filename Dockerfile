# injector image: the `injector` command and the relocatable runtime `inject --env` copies into app containers.
# Build: docker build -t injector:0.1.0 .   Run: docker run --rm -v $PWD/examples:/ex injector:0.1.0 check --pod /ex/pod.yaml --secrets /ex/secrets
# CI builds it without a registry: .ci/build-image.sh.
FROM python:3.11-slim-bookworm AS build
# BUILD_EXTRA_PACKAGES: what a base without Python's headers needs (CI's Debian stand-in: python3-dev).
ARG BUILD_EXTRA_PACKAGES=
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev binutils pkg-config libfuse3-dev patch $BUILD_EXTRA_PACKAGES \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY vendor ./vendor
# pyfuse3 is built by vendor/build-pyfuse3.sh, with the patches it explains. trio first: the script's check
# imports pyfuse3, which imports trio; then `pip install .` finds pyfuse3 3.5.0 installed and builds it only once.
RUN python3 -m venv /venv \
 && /venv/bin/pip install -q --no-cache-dir trio \
 && sh vendor/build-pyfuse3.sh /venv/bin
COPY pyproject.toml README.md ./
COPY injector ./injector
COPY fuse ./fuse
COPY image ./image
# /opt/injector: Python, injector and every library they load, runnable in any Linux image (image/bundle.py),
# started by a static launcher (image/launcher.c).
RUN /venv/bin/pip install -q --no-cache-dir . \
 && python3 image/bundle.py /venv /opt/injector \
 && gcc -static -Os -s -o /opt/injector/bin/injector image/launcher.c \
 && /opt/injector/bin/injector --version

FROM python:3.11-slim-bookworm
# fuse3: fusermount3, with which a non-root user mounts (root mounts directly). The nonroot user exists, as
# fusermount3 requires: it exits with "could not determine username" for a uid without a passwd entry.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fuse3 \
 && rm -rf /var/lib/apt/lists/* \
 && echo user_allow_other >> /etc/fuse.conf \
 && echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'nonroot:x:65532:' >> /etc/group
COPY --from=build /opt/injector /opt/injector
ENV PATH=/opt/injector/bin:$PATH
# Non-root by default. The agent's FUSE mount then goes through fusermount3 (setuid root), which needs
# /dev/fuse, CAP_SYS_ADMIN in the container and privilege escalation allowed; `injector inject` runs the
# sidecar as root instead (or, with --fuse csi, unprivileged on a descriptor a FUSE CSI driver mounted).
# Non-root, the agent warns that memory cannot be locked unless RLIMIT_MEMLOCK is raised.
# No HEALTHCHECK: Kubernetes probes use the agent's /readyz and /healthz.
USER 65532:65532
ENTRYPOINT ["/opt/injector/bin/injector"]
CMD ["agent", "--self", "--mount", "/mnt/injector", "--listen", ":8080"]
