package io.cistern.cli;

import io.cistern.Cistern;
import io.cistern.ops.CacheOperations;
import io.cistern.ops.ImageView;
import io.cistern.ops.JobView;
import io.cistern.ops.OperationException;
import io.cistern.ops.PinView;
import io.cistern.ops.PurgeView;
import io.cistern.ops.StatsView;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/** The cache directory opened by the CLI itself: no server runs, so this process is its one writer. */
final class LocalClient implements CacheClient {

  private final Cistern.Tools tools;
  private final CacheOperations operations;
  private final Path directory;

  LocalClient(Cistern.Tools tools, Path directory) {
    this.tools = tools;
    this.operations = tools.operations();
    this.directory = directory;
  }

  @Override
  public String description() {
    return "the cache in " + directory + " (no server is running)";
  }

  @Override
  public List<ImageView> images(String repository, int limit) {
    return operations.images(repository, limit);
  }

  @Override
  public StatsView stats() {
    return operations.stats();
  }

  @Override
  public PinView pin(String image) {
    return operations.pin(image);
  }

  @Override
  public PinView unpin(String image) {
    return operations.unpin(image);
  }

  @Override
  public PurgeView purge(String image) {
    return operations.purge(image);
  }

  @Override
  public PurgeView purgeOlderThan(String age) {
    return operations.purgeOlderThan(age);
  }

  @Override
  public long warm(List<String> images, List<String> platforms) {
    return tools.jobs().start("warm", operations.warmJob(images, platforms));
  }

  @Override
  public long export(Path out, List<String> images) {
    return tools.jobs().start("export", operations.exportJob(out, images));
  }

  /** The operator's own file: a link given on the command line is followed here, as the operator meant. */
  @Override
  public long importBundle(Path file, boolean pin) {
    Path real;
    try {
      real = file.toRealPath();
    } catch (NoSuchFileException e) {
      throw new OperationException(404, "no such bundle: " + file);
    } catch (IOException e) {
      throw new OperationException(400, "cannot read " + file + ": " + e.getMessage());
    }
    return tools.jobs().start("import", operations.importJob(real, pin));
  }

  @Override
  public long verify(boolean repair) {
    return tools.jobs().start("verify", operations.verifyJob(repair));
  }

  @Override
  public JobView job(long id) {
    return tools.jobs().view(id).orElseThrow(() -> new OperationException(404, "no job " + id));
  }

  @Override
  public void close() {
    tools.close();
  }
}
