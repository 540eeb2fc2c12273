# injector image: the `injector` command with the FUSE runtime it mounts with.
# Build: docker build -t injector .   Run: docker run --rm -v $PWD/examples:/ex injector check --pod /ex/pod.yaml --secrets /ex/secrets
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc pkg-config libfuse3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY injector ./injector
COPY fuse ./fuse
COPY vendor ./vendor
# pyfuse3 is built with vendor/pyfuse3.patch (see vendor/build-pyfuse3.sh for why).
RUN apt-get update && apt-get install -y --no-install-recommends patch && rm -rf /var/lib/apt/lists/* \
 && pip wheel --no-cache-dir --wheel-dir /wheels . \
 && rm /wheels/pyfuse3-*.whl \
 && pip download -q --no-deps --no-binary :all: -d /tmp/pf pyfuse3==3.5.0 \
 && tar xzf /tmp/pf/pyfuse3-3.5.0.tar.gz -C /tmp/pf \
 && (cd /tmp/pf/pyfuse3-3.5.0 && patch -s -p1 < /src/vendor/pyfuse3.patch) \
 && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels /tmp/pf/pyfuse3-3.5.0

FROM python:3.11-slim-bookworm
# fuse3 gives fusermount3 and libfuse3, which pyfuse3 links against; nothing else is needed at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fuse3 \
 && rm -rf /var/lib/apt/lists/* \
 && echo user_allow_other >> /etc/fuse.conf
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# No plaintext on disk inside the container either: Python writes no bytecode cache at run time.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# Non-root by default. The agent's FUSE mount then goes through fusermount3 (setuid root, from the
# fuse3 package), which needs /dev/fuse, CAP_SYS_ADMIN in the container and privilege escalation
# allowed; where that is not possible, run the sidecar as root (see examples/sidecar). Non-root, the
# agent warns that memory cannot be locked unless RLIMIT_MEMLOCK is raised.
# No HEALTHCHECK: Kubernetes probes use the agent's /readyz and /healthz.
USER 65532:65532
ENTRYPOINT ["injector"]
CMD ["agent", "--self", "--mount", "/mnt/injector", "--listen", ":8080"]
