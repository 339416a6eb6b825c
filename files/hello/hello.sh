#!/bin/sh
# The demo application: prints a greeting.
greeting=$(cat "$(dirname "$0")/../share/hello-forge/greeting")
echo "$greeting from forge"
