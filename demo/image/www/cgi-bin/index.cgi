#!/bin/sh
# The demo web service's page (busybox httpd runs it for `/`): which replica
# answered and which version it runs, so a rollout is visible from curl.
echo "Content-Type: text/plain"
echo
echo "hello from $(hostname), berth demo $(cat /etc/demo-version)"
