#!/usr/bin/env bash
# Builds Cistern's class-data-sharing archive: the classes of JAR and of the JDK that a start loads,
# which the next start then maps instead of loading and verifying them one by one.
#   scripts/cds-archive.sh JAR ARCHIVE
# Runs io.cistern.cli.ClassDataTraining (a start on loopback, three requests, a stop) under
# -XX:DumpLoadedClassList with the JVM options in jvm-options beside this script, dumps one static
# archive of exactly the classes listed (-Xshare:dump), checks that the JVM can use what it wrote,
# and only then gives it ARCHIVE's name: JDK 17 crashes on a truncated archive, so a half-written
# one must never be found there. One static archive in place of the JDK's own plus a dynamic one
# on top holds none of the JDK's default classes that Cistern never loads: this JDK relocates
# archives at every start, which touches every page, so each archived class is resident in every
# process, used or not. The archive is optional: when this JVM cannot make one, the script says
# so and leaves none, and Cistern starts without it, only slower.
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
# SQLite's library where scripts/run.sh and the image point sqlite-jdbc at it (beside the jar, as
# the build or the image lays it out): without it the training would archive what sqlite-jdbc
# loads to copy its library out of the jar (processes, OS probes), which no start loads.
sqlite=()
for directory in "$(dirname "$jar")/sqlite-native/org/sqlite/native/Linux/$(uname -m)" "$(dirname "$jar")/sqlite-native"; do
  if [[ -f "$directory/libsqlitejdbc.so" ]]; then
    sqlite=("-Dorg.sqlite.lib.path=$directory")
    break
  fi
done
partial="$archive.partial"
classes="$archive.classlist"
rm -f "$archive" "$partial" "$classes"
if "$java" "${options[@]}" -Xshare:off -XX:DumpLoadedClassList="$classes" "${sqlite[@]}" \
    -cp "$jar" io.cistern.cli.ClassDataTraining > "$archive.log" 2>&1 \
  && "$java" "${options[@]}" -Xshare:dump -XX:SharedClassListFile="$classes" -XX:SharedArchiveFile="$partial" \
    -cp "$jar" >> "$archive.log" 2>&1 \
  && "$java" "${options[@]}" -Xshare:on -XX:SharedArchiveFile="$partial" -cp "$jar" io.cistern.cli.Main --help \
    >/dev/null 2>>"$archive.log"; then
  mv "$partial" "$archive"
  rm -f "$archive.log" "$classes"
else
  echo "cds-archive: no class-data archive made (Cistern starts without one, only slower); see $archive.log" >&2
  rm -f "$partial" "$classes"
fi
