# One image for every FeedbackLoop role: the command picks the role (docker-compose.yml, docs/DEPLOY.md).
# Build: docker build -t feedbackloop:latest .
# A GPU worker needs its trainer's runtime (python3, torch) on top: FROM feedbackloop:latest, then install it.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Build settings first, so a source change does not invalidate the restore layer's inputs.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/ src/
RUN dotnet publish src/FeedbackLoop.Cli/FeedbackLoop.Cli.csproj -c Release -o /app --no-self-contained

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
# libsasl2: librdkafka's linux build links it (SASL/GSSAPI); without it the Kafka client cannot load.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsasl2-2 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /app /opt/feedbackloop
COPY scripts/container-healthcheck.sh /usr/local/bin/feedbackloop-healthcheck
RUN ln -s /opt/feedbackloop/feedbackloop /usr/local/bin/feedbackloop \
    && chmod 0755 /usr/local/bin/feedbackloop-healthcheck \
    && mkdir -p /data /var/lib/feedbackloop \
    && chown "$APP_UID" /data /var/lib/feedbackloop \
    && chmod 0750 /data && chmod 0700 /var/lib/feedbackloop

# The image's non-root user (uid 1654); what the loop writes is this user's alone (docs/DEPLOY.md, "File modes").
USER $APP_UID
ENV FEEDBACKLOOP_DATA=/data \
    FEEDBACKLOOP_STORE=/var/lib/feedbackloop/registry.db \
    FEEDBACKLOOP_HEALTH_PORT=9464 \
    FeedbackLoop__Metrics__Host=* \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
VOLUME ["/data", "/var/lib/feedbackloop"]
WORKDIR /var/lib/feedbackloop

# Every role serves /healthz on its --metrics-port; give each container --metrics-port $FEEDBACKLOOP_HEALTH_PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["/usr/local/bin/feedbackloop-healthcheck"]
ENTRYPOINT ["feedbackloop"]
CMD ["--help"]
