#!/bin/bash
# The container image's HEALTHCHECK: GET /healthz on the role's metrics port (FEEDBACKLOOP_HEALTH_PORT, the port the
# container's command passes to --metrics-port). It uses bash's /dev/tcp so the runtime image needs no curl.
# Exit 0 on "HTTP/1.x 200", 1 otherwise (503: a check failed; nothing listening: the role is not up).
set -euo pipefail
port="${FEEDBACKLOOP_HEALTH_PORT:-9464}"
exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r status <&3
[[ "$status" == HTTP/1.?" 200 "* ]]
