#!/bin/bash -eu
# ClusterFuzzLite runs $SRC/build.sh; the repository's build.sh is the one
# OSS-Fuzz would run too.
exec "$SRC/amc/build.sh"
