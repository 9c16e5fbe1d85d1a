#!/usr/bin/env bash
# Runs every test of the solution (unit, contract, Parquet and the integration tests against the
# in-process Kafka cluster). Needs only the .NET 10 SDK.
set -euo pipefail
cd "$(dirname "$0")"
dotnet build FeedbackLoop.sln -c Release
dotnet test FeedbackLoop.sln -c Release --no-build --logger "console;verbosity=minimal"
