package io.cistern.ops;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * The one directory the admin API exports bundles to and imports them from
 * ({@code admin.bundleDirectory}). Callers of the API name a file in it, never a path: whoever
 * can reach the API can then neither write a file elsewhere nor make the server read one. The
 * CLI on a stopped cache runs as the operator and takes any path; it does not come here.
 */
public final class BundleDirectory {

  private final Path root;

  private BundleDirectory(Path root) {
    this.root = root;
  }

  /** The directory, created if missing, so operators can copy bundles into it before any export. */
  public static BundleDirectory create(Path directory) {
    Path root = directory.toAbsolutePath().normalize();
    try {
      Files.createDirectories(root);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the bundle directory " + root + ": " + e.getMessage(), e);
    }
    return new BundleDirectory(root);
  }

  public Path root() {
    return root;
  }

  /**
   * Where a new bundle {@code name} goes.
   *
   * @throws OperationException 400 for a name that is not a plain file name or is a link, 409
   *     when the file exists (the exporter checks again as it publishes: it never overwrites)
   */
  public Path forExport(String name) {
    Path file = resolve(name);
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException absent) {
      return file;
    } catch (IOException e) {
      throw new OperationException(400, "cannot check " + name + " in the bundle directory: " + e.getMessage(), e);
    }
    if (attributes.isSymbolicLink()) {
      throw new OperationException(400, name + " in the bundle directory is a symbolic link");
    }
    throw new OperationException(409, name + " exists in the bundle directory: remove it or choose another name");
  }

  /**
   * The existing bundle {@code name}.
   *
   * @throws OperationException 400 for a name that is not a plain file name, or a file that is
   *     not a regular one (a link, a FIFO that would hang the reader, a directory); 404 when absent
   */
  public Path forImport(String name) {
    Path file = resolve(name);
    requireRegularFile(file);
    return file;
  }

  /**
   * Checks that {@code file} itself (not what a link points at) is a regular file. A FIFO would
   * block the reader forever and a device would never end.
   */
  static void requireRegularFile(Path file) {
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw new OperationException(404, "no such bundle: " + file);
    } catch (IOException e) {
      throw new OperationException(400, "cannot read " + file + ": " + e.getMessage(), e);
    }
    if (attributes.isSymbolicLink()) {
      throw new OperationException(400, file + " is a symbolic link: name the bundle itself");
    }
    if (!attributes.isRegularFile()) {
      throw new OperationException(400, file + " is not a regular file");
    }
  }

  /**
   * A plain file name, directly in the directory: no separator, no {@code ..}, not hidden (the
   * exporter's temp files are hidden, and must neither be imported half-written nor clobbered).
   */
  private Path resolve(String name) {
    if (name == null || name.isBlank()) {
      throw new OperationException(400, "name a bundle file in the bundle directory");
    }
    Path file;
    try {
      file = root.resolve(name).normalize();
    } catch (InvalidPathException e) {
      throw new OperationException(400, "not a file name: " + name);
    }
    // Normalised first, then checked: the file's parent must be the directory itself.
    if (Path.of(name).isAbsolute() || !root.equals(file.getParent()) || file.getFileName().toString().startsWith(".")) {
      throw new OperationException(400, "'" + name + "' is not a file name in the bundle directory: the admin API"
          + " reads and writes bundles only in admin.bundleDirectory, by name (site.tar)");
    }
    return file;
  }
}
