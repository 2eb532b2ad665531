#!/usr/bin/env bash
# Builds Cistern's class-data-sharing archive: the classes of JAR that a start loads, which the next
# start then maps instead of loading and verifying them one by one.
#   scripts/cds-archive.sh JAR ARCHIVE
# Runs io.cistern.ClassDataTraining (a start on loopback, three requests, a stop) under
# -XX:ArchiveClassesAtExit with the JVM options in jvm-options beside this script, checks that the
# JVM can use what it wrote, and only then gives it ARCHIVE's name: JDK 17 crashes on a truncated
# archive, so a half-written one must never be found there. The archive is optional: when this JVM
# cannot make one, the script says so and leaves none, and Cistern starts without it, only slower.
# An archive fits one JVM build and one JAR (size and time stamp): make it again after either
# changes (the Maven build and the image's build do; a mismatch only costs the speed-up).
set -uo pipefail
jar=$1
archive=$2
java=${JAVA:-java}
options=()
if [[ -f "$(dirname "$0")/jvm-options" ]]; then
  read -r -a options < "$(dirname "$0")/jvm-options"
fi
partial="$archive.partial"
rm -f "$archive" "$partial"
if "$java" "${options[@]}" -XX:ArchiveClassesAtExit="$partial" -Xlog:cds=off -Xlog:cds+dynamic=off \
    -cp "$jar" io.cistern.ClassDataTraining > "$archive.log" 2>&1 \
  && "$java" "${options[@]}" -Xshare:on -XX:SharedArchiveFile="$partial" -cp "$jar" io.cistern.Main --help \
    >/dev/null 2>>"$archive.log"; then
  mv "$partial" "$archive"
  rm -f "$archive.log"
else
  echo "cds-archive: no class-data archive made (Cistern starts without one, only slower); see $archive.log" >&2
  rm -f "$partial"
fi
