package io.cistern.cache;

/** What a purge removed: blobs and manifests, and their bytes. */
public record Removal(int blobs, long bytes) {

  public static final Removal NOTHING = new Removal(0, 0);

  public Removal plus(Removal other) {
    return new Removal(blobs + other.blobs, bytes + other.bytes);
  }
}
