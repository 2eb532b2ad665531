package io.cistern.cli;

import io.cistern.ops.ImageView;
import io.cistern.ops.JobView;
import io.cistern.ops.PinView;
import io.cistern.ops.PurgeView;
import io.cistern.ops.StatsView;
import java.nio.file.Path;
import java.util.List;

/**
 * What the CLI asks of a cache, whether it opened the cache directory itself ({@link LocalClient})
 * or a server has it open and answers on its admin API ({@link AdminClient}). Either way one
 * process writes the SQLite file. Failures are {@link io.cistern.ops.OperationException}s whose
 * message is meant for the operator.
 */
interface CacheClient extends AutoCloseable {

  /** Where the commands go, for the operator: a directory, or a server's admin address. */
  String description();

  List<ImageView> images(String repository, int limit);

  StatsView stats();

  PinView pin(String image);

  PinView unpin(String image);

  PurgeView purge(String image);

  /** @param age as the configuration writes durations: {@code 30d}, {@code 12h} */
  PurgeView purgeOlderThan(String age);

  /** Starts a warm; returns its job. */
  long warm(List<String> images, List<String> platforms);

  /** Starts an export to {@code out} (absolute; in the bundle directory while a server runs); returns its job. */
  long export(Path out, List<String> images);

  /** Starts an import of {@code file} (absolute; in the bundle directory while a server runs); returns its job. */
  long importBundle(Path file, boolean pin);

  /** Starts a verification of everything stored, repairing what is damaged if asked; returns its job. */
  long verify(boolean repair);

  JobView job(long id);

  @Override
  void close();
}
