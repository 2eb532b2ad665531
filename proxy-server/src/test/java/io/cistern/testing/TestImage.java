package io.cistern.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

/**
 * A generated, valid OCI image: gzip tar layers of seeded random bytes, a config and a manifest;
 * or an index over several such images. The same seed gives the same bytes.
 */
public final class TestImage {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A piece of content with its digest and media type. */
  public record Blob(Digest digest, String mediaType, byte[] bytes) {
    static Blob of(String mediaType, byte[] bytes) {
      return new Blob(Digest.sha256Of(bytes), mediaType, bytes);
    }

    /** {@code size} seeded random bytes as a plain blob: the same seed gives the same bytes. */
    public static Blob random(long seed, int size) {
      byte[] bytes = new byte[size];
      new Random(seed).nextBytes(bytes);
      return of("application/octet-stream", bytes);
    }
  }

  private final Blob manifest;
  private final List<Blob> blobs;
  private final List<TestImage> children;

  private TestImage(Blob manifest, List<Blob> blobs, List<TestImage> children) {
    this.manifest = manifest;
    this.blobs = blobs;
    this.children = children;
  }

  /** An image for {@code linux/<architecture>} with {@code layers} layers of about {@code layerBytes}. */
  public static TestImage random(long seed, int layers, int layerBytes, String architecture) {
    return random(seed, layers, layerBytes, architecture, false);
  }

  /**
   * As {@link #random}, with the config listing each layer's uncompressed digest ({@code diff_ids}),
   * as containerd, dockerd and podman check when they unpack an image they pulled.
   */
  public static TestImage unpackable(long seed, int layers, int layerBytes, String architecture) {
    return random(seed, layers, layerBytes, architecture, true);
  }

  private static TestImage random(long seed, int layers, int layerBytes, String architecture, boolean diffIds) {
    Random random = new Random(seed);
    List<Blob> layerBlobs = new ArrayList<>();
    List<String> uncompressed = new ArrayList<>();
    for (int i = 0; i < layers; i++) {
      byte[] content = new byte[layerBytes];
      random.nextBytes(content);
      byte[] tar = tar("layer" + i + ".bin", content);
      uncompressed.add(Digest.sha256Of(tar).toString());
      layerBlobs.add(Blob.of("application/vnd.oci.image.layer.v1.tar+gzip", gzip(tar)));
    }
    return image(seed, architecture, layerBlobs, diffIds ? uncompressed : List.of());
  }

  /**
   * Another image with this one's layers and a config of its own (labelled {@code seed}, listing
   * no {@code diff_ids}): it shares every layer with this one, and neither its config nor its
   * manifest.
   */
  public TestImage sharingLayers(long seed, String architecture) {
    return image(seed, architecture, blobs.subList(1, blobs.size()), List.of());
  }

  private static TestImage image(long seed, String architecture, List<Blob> layerBlobs, List<String> diffIds) {
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("architecture", architecture);
    config.put("os", "linux");
    config.put("created", "2026-01-01T00:00:00Z");
    config.put("rootfs", Map.of("type", "layers", "diff_ids", diffIds));
    config.put("config", Map.of("Labels", Map.of("seed", Long.toString(seed))));
    Blob configBlob = Blob.of("application/vnd.oci.image.config.v1+json", json(config));
    Map<String, Object> manifest = new LinkedHashMap<>();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", MediaTypes.OCI_MANIFEST);
    manifest.put("config", descriptor(configBlob, null));
    List<Object> layerDescriptors = new ArrayList<>();
    layerBlobs.forEach(layer -> layerDescriptors.add(descriptor(layer, null)));
    manifest.put("layers", layerDescriptors);
    List<Blob> blobs = new ArrayList<>();
    blobs.add(configBlob);
    blobs.addAll(layerBlobs);
    return new TestImage(Blob.of(MediaTypes.OCI_MANIFEST, json(manifest)), blobs, List.of());
  }

  /** An OCI index over {@code images}, each entry labelled with its architecture. */
  public static TestImage index(List<String> architectures, List<TestImage> images) {
    List<Object> entries = new ArrayList<>();
    for (int i = 0; i < images.size(); i++) {
      entries.add(descriptor(images.get(i).manifest, Map.of("os", "linux", "architecture", architectures.get(i))));
    }
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", MediaTypes.OCI_INDEX);
    index.put("manifests", entries);
    return new TestImage(Blob.of(MediaTypes.OCI_INDEX, json(index)), List.of(), List.copyOf(images));
  }

  public Blob manifest() {
    return manifest;
  }

  public Digest digest() {
    return manifest.digest();
  }

  /** This image's config and layers (none for an index). */
  public List<Blob> blobs() {
    return blobs;
  }

  /** The images of an index (none for an image). */
  public List<TestImage> children() {
    return children;
  }

  /** Every blob and manifest below and including this one. */
  public List<Blob> allContent() {
    List<Blob> all = new ArrayList<>();
    for (TestImage child : children) {
      all.addAll(child.allContent());
    }
    all.addAll(blobs);
    all.add(manifest);
    return all;
  }

  private static Map<String, Object> descriptor(Blob blob, Map<String, String> platform) {
    Map<String, Object> descriptor = new LinkedHashMap<>();
    descriptor.put("mediaType", blob.mediaType());
    descriptor.put("digest", blob.digest().toString());
    descriptor.put("size", blob.bytes().length);
    if (platform != null) {
      descriptor.put("platform", platform);
    }
    return descriptor;
  }

  static byte[] json(Object value) {
    try {
      return JSON.writeValueAsBytes(value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A one-file POSIX tar: header, content padded to 512, two zero blocks. */
  private static byte[] tar(String name, byte[] content) {
    byte[] header = new byte[512];
    put(header, 0, name);
    put(header, 100, "0000644");
    put(header, 108, "0000000");
    put(header, 116, "0000000");
    put(header, 124, String.format("%011o", content.length));
    put(header, 136, "00000000000");
    header[156] = '0';
    put(header, 257, "ustar");
    put(header, 263, "00");
    for (int i = 148; i < 156; i++) {
      header[i] = ' ';
    }
    int checksum = 0;
    for (byte b : header) {
      checksum += b & 0xff;
    }
    put(header, 148, String.format("%06o", checksum));
    header[154] = 0;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(header);
    out.writeBytes(content);
    out.writeBytes(new byte[(512 - content.length % 512) % 512]);
    out.writeBytes(new byte[1024]);
    return out.toByteArray();
  }

  private static void put(byte[] header, int offset, String value) {
    byte[] bytes = value.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(bytes, 0, header, offset, bytes.length);
  }

  private static byte[] gzip(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(data.length + 1024);
    try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
      gzip.write(data);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
